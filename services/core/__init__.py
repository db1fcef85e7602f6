"""Shared core of every parkcarbon service: settings, database, ORM models, units."""
