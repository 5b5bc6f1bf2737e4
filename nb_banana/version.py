"""The package's version: written into saved files' provenance by every layer that saves."""

__version__ = "0.1.0"
