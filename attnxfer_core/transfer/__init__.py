"""Attention transfer: the plan (which layers and heads), the student-with-teacher model, the losses."""
