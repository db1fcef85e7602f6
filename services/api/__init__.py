"""REST API (/api/v1) and the process that also serves the dashboard."""
