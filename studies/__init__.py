"""Study registry: one file per study (see issue: study registry)."""
