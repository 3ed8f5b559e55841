"""Submitting studies to SLURM with submitit, and a local single-node cluster."""
