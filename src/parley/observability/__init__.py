"""Metrics (and, later, structured logs): what operators watch."""
