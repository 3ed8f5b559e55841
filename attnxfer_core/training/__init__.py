"""Training one run: objectives, optimizer, the resumable loop, distributed set-up, execution."""
