"""The package version: a leaf module, so anything can read it without importing the package's API."""
__version__ = "0.1.0"
