"""A run on disk: its directory contract and state, atomic files, checkpoint I/O, provenance."""
