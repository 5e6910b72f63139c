"""The library as of a git commit, for benchmarks that compare the current engine with an older one.

The old code is never kept in ``lib/``: :func:`lib_at` extracts ``lib/`` at the chosen
commit into a temporary folder, and :func:`run_with_lib` runs a script in a fresh Python
process that imports ``misalign`` from there. A separate process per run means both
engines pay the same one-time costs and cannot share caches.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "61a133321a6f6d8b58905dafce28a0457112d734"  # main before the issue-12 engine (numpy rollout, folded inputs)


@contextlib.contextmanager
def lib_at(ref: str) -> Iterator[Path]:
    """A temporary folder holding ``lib/`` as of git ``ref`` (its path is what PYTHONPATH needs)."""
    blob = subprocess.run(["git", "archive", ref, "lib"], cwd=ROOT, capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="misalign-lib-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / "lib"


def run_with_lib(lib: Path, script: Path, args: list[str]) -> dict:
    """Run ``script args`` with ``misalign`` imported from ``lib``; it must print one JSON line last."""
    env = {**os.environ, "PYTHONPATH": str(lib), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    out = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
