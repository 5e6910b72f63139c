"""Shared paths and helpers for the test suite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BUILD_TOOL = ROOT / "tools" / "build_book.py"
sys.path.insert(0, str(BUILD_TOOL.parent))  # tests import helpers from the build tool


def chapter_stems() -> list[str]:
    """Every chapter notebook stem in book/ (either half of a pair counts)."""
    return sorted({p.stem for p in BOOK.glob("*.py")} | {p.stem for p in BOOK.glob("*.ipynb")})


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def run_build_tool(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run tools/build_book.py with this interpreter; capture its output as text."""
    return subprocess.run(
        [sys.executable, str(BUILD_TOOL), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def requirement_name(requirement: str) -> str:
    """'scikit-learn>=1.3' -> 'scikit-learn' (normalized: lower case, '-' for '_' and '.')."""
    name = re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()
