"""Outer and inner misalignment, executable: the shared library of the book."""

__version__ = "0.1.0"

from misalign import envs as _envs  # noqa: E402  (registers the gymnasium ids)

REGISTERED_IDS = _envs.REGISTERED_IDS
