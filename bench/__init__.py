"""Benchmark wharf against CNCF Distribution on the same machine: `python -m bench.run`."""
