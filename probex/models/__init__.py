"""Pyro models (and guides) of the explanation methods, one module per method family."""
