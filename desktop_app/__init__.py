"""ModelScout: find the cheapest language model that is good enough for your own task."""

__version__ = "0.1.0"
