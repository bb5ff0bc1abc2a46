"""Parley: real-time chat and background tasks."""

from importlib.metadata import version

__version__ = version("parley")
