"""`make bench`: load scenarios on the production-like stack, with ceilings and data checks."""
