"""Participant client for the benchmark platform's REST API (standard library only)."""

__version__ = "0.1.0"
