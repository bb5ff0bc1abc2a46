"""Repositories: every SQL statement Parley runs lives in this package."""
