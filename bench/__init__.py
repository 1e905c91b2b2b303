"""Benchmarks run by `make bench` (never by `make test`); results land in bench/results/."""
