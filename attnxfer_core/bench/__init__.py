"""Benchmarks and harnesses: step cost, study expansion, synthetic run directories, the kill test."""
