"""Benchmarks against the real stack (`make bench`); results go to `.state/bench/` and the README table."""
