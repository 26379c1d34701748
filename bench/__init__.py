"""Benchmarks of the performance targets: `make bench` (python -m bench.run); see
docs/benchmarks.md."""
