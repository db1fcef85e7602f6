"""Processes that tests and benchmarks start (a Mosquitto broker, ``parkcarbon ingest``
workers). Nothing in production imports this package (import-linter contract in pyproject)."""
