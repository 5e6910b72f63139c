"""Argument checks that fail early with the parameter's name and the accepted values."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any


def check_choice(name: str, value: Any, accepted: Iterable[Any]) -> None:
    """Raise ValueError unless ``value`` is one of ``accepted``."""
    accepted = tuple(accepted)
    if value not in accepted:
        raise ValueError(f"unknown {name} {value!r}; accepted: {', '.join(map(repr, accepted))}")


def check_int_range(name: str, value: Any, low: int, high: int) -> None:
    """Raise ValueError unless ``value`` is an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be an integer in [{low}, {high}] (got {value!r})")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}] (got {value!r})")


def check_probability(name: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is a number in [0, 1]."""
    if not is_real(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1] (got {value!r})")


def is_real(value: Any) -> bool:
    """A real number that is not a bool (and not a string that looks like one)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_number(name: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is a finite real number (not a bool or a string)."""
    if not is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number (got {value!r})")
