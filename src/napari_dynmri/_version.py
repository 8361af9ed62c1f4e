"""The package version, in a module of its own so the core can record it without importing the top level."""

__version__ = "0.1.0"
