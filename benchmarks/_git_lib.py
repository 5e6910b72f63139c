"""The library as of a git commit, for benchmarks that compare the current engine with an older one.

The old code is never kept in ``lib/``: :func:`lib_at` extracts ``lib/`` at the chosen
commit into a temporary folder, and :func:`run_with_lib` runs a script in a fresh Python
process that imports ``misalign`` from there. A separate process per run means both
engines pay the same one-time costs and cannot share caches.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
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


def add_compare_arguments(parser: argparse.ArgumentParser, what: str = "version") -> None:
    """``--compare REF``, ``--repeats`` and ``--json``: the before/after options these benchmarks share."""
    parser.add_argument("--compare", metavar="REF", help="also run lib/ at this git ref, alternating")
    parser.add_argument("--repeats", type=int, default=3, help=f"runs of each {what} with --compare")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line (for --compare)")


def alternate(
    ref: str, script: Path, flags: list[str], repeats: int, on_run: Callable[[int, str, dict], None] | None = None
) -> dict[str, list[dict]]:
    """Run ``script flags`` ``repeats`` times on ``lib/`` at ``ref`` ("before") and on the working
    tree ("after"), alternating fresh processes so that both meet the same machine load."""
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with lib_at(ref) as old_lib:
        for i in range(repeats):
            for label, lib in (("before", old_lib), ("after", ROOT / "lib")):
                runs[label].append(run_with_lib(lib, script, flags))
                if on_run is not None:
                    on_run(i, label, runs[label][-1])
    return runs
