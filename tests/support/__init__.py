"""Test support: databases, running servers and data factories."""
