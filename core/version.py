"""The software version, written into every model file and report."""

__version__ = "0.2.0"
