"""The single place the zobench version is written."""

__version__ = "0.1.0"
