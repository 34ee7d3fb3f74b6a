"""Tests of probex.metrics (a package, so that test module names may repeat across folders)."""
