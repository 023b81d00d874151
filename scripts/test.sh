#!/usr/bin/env bash
# Set up everything the tests need, then run lint, types and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
bash scripts/check.sh
.venv/bin/python -m pytest "$@"
# Keep the benchmark working (no timings asserted).
.venv/bin/python -m bench.run --smoke
