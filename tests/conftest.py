"""Shared paths and helpers for the test suite: the book build, and shortest paths and scripted episodes on levels."""

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


def book_time_limit(n_chapters: int, jobs: int, chapter_timeout: float, html_s: float = 900) -> float:
    """The longest a build may take before the build tool itself gives up: its chapters run
    ``jobs`` at a time, each under ``chapter_timeout`` (a chapter past it fails, named, in the
    build's own report), then the site is built. A test waiting longer than this would only
    hide a hung build; a test waiting less would cut off a slow machine's honest build."""
    return -(-n_chapters // max(1, jobs)) * chapter_timeout + html_s


def run_build_tool(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run tools/build_book.py with this interpreter; capture its output as text.

    Past ``timeout`` the tool gets SIGTERM (it then ends every chapter process it started),
    then SIGKILL; the test fails with whatever it had printed.
    """
    proc = subprocess.Popen(
        [sys.executable, str(BUILD_TOOL), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise AssertionError(f"the build tool ran past {timeout:.0f} s:\n{err[-4000:]}\n{out[-4000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def requirement_name(requirement: str) -> str:
    """'scikit-learn>=1.3' -> 'scikit-learn' (normalized: lower case, '-' for '_' and '.')."""
    name = re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


# --- core helpers: shortest paths on a level and scripted episodes ---

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch
from misalign.grid import follow, moves, shortest_path  # noqa: F401  (tests import follow from here)
from misalign.gridworld import GridWorld

torch.set_num_threads(1)


def bfs_path(walls: np.ndarray, size: int, start: int, goal: int, avoid=()) -> list[int] | None:
    """Shortest action sequence from ``start`` to ``goal`` avoiding ``avoid`` (see misalign.grid)."""
    return shortest_path(np.asarray(walls).reshape(size, size), start, goal, avoid)


def wall_bump(walls: np.ndarray, size: int, cell: int) -> int | None:
    """An action that bumps into a wall from ``cell`` (the agent stays put), if any."""
    stays = np.flatnonzero(moves(np.asarray(walls).reshape(size, size), cell) == cell)
    return int(stays[0]) if stays.size else None


class Episode:
    """One scripted episode on a pinned level of a single-slot GridWorld, recording every step."""

    def __init__(self, scenario, split: str, level: int, seed: int = 0, bank=None) -> None:
        self.world = GridWorld(scenario, split, 1, seed=seed, autoreset=False, bank=bank)
        self.obs = self.world.reset(levels=[level])
        self.steps: list[dict] = []

    def play(self, actions) -> Episode:
        for a in actions:
            assert not self.world.done[0], "scripted an action after the episode ended"
            res = self.world.step(np.array([a]))
            self.obs = res.obs
            self.steps.append(
                {
                    "reward": float(res.reward[0]),
                    "R": float(res.info["R"][0]),
                    "H": float(res.info["H"][0]),
                    "terminated": bool(res.terminated[0]),
                    "truncated": bool(res.truncated[0]),
                    "events": res.info["events"][0].copy(),
                    "tampered": bool(res.info["tampered"][0]),
                    "episode": res.info.get("episode"),
                }
            )
        return self

    @property
    def pos(self) -> int:
        return int(self.world.pos[0])

    def total(self, key: str) -> float:
        return sum(s[key] for s in self.steps)

    def count(self, event: str) -> int:
        from misalign.registry import EVENTS as COUNTED

        j = COUNTED.index(event)
        return int(sum(s["events"][j] for s in self.steps))

    @property
    def ended(self) -> bool:
        return bool(self.steps) and (self.steps[-1]["terminated"] or self.steps[-1]["truncated"])


@pytest.fixture
def approx():
    return lambda x: pytest.approx(x, abs=1e-5)
