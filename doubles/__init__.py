"""Test and bench doubles: local fake servers and plugins that stand in for what is not ours
(the records API, the LLM) or start what tests need (embedded PostgreSQL and Valkey). Never
imported by product code under apps/."""
