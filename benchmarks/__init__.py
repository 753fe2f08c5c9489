"""Benchmarks: each prints its measure as a ratio against a baseline measured in the same run."""
