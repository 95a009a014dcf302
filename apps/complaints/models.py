"""Models of the complaints app: see the issue that builds it."""
