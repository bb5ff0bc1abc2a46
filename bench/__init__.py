"""Parley's benchmarks: each scenario measures Parley beside its peers and floors in one run."""
