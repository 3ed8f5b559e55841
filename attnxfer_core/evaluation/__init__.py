"""Evaluating finished runs after the fact: shifted and corrupted sets, ensembles, matched accuracy,
attention similarity."""
