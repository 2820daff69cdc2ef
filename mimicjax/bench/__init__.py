"""Benchmarks of the hot paths; each prints JSON and can be reproduced from one command."""
