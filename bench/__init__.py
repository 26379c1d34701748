"""Benchmarks of design.md §7: `make bench` (python -m bench.run); see docs/benchmarks.md."""
