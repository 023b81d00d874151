.PHONY: setup serve test check bench
setup:
	bash scripts/setup.sh --dev
serve:
	bash scripts/serve.sh
test:
	bash scripts/test.sh
check:
	bash scripts/check.sh
bench:
	.venv/bin/python -m bench.run
