"""Models of the sync app: see the issue that builds it."""
