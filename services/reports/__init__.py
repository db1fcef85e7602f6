"""Enterprise monthly reports, their review and exports (issue 15 builds this package)."""
