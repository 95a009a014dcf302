"""Models of the assessments app: see the issue that builds it."""
