"""The package version, importable by every module without an import cycle."""

__version__ = "0.2.0.dev0"
