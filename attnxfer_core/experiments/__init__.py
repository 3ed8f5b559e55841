"""Studies as data: scales and presets, the study contract (points, claims, figures, analyses), planning, validation."""
