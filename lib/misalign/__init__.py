"""Outer and inner misalignment, executable: the shared library of the book."""

__version__ = "0.1.0"
