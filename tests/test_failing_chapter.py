"""The build tool on throwaway books: failures name the chapter and cell; profiles; timeouts.

These execute tiny chapters only (no HTML), a few seconds each.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from build_book import count_policies, render_appendix
from conftest import BUILD_TOOL, run_build_tool

pytestmark = pytest.mark.book

PARAMETERS = '# %% tags=["parameters"]\nprofile = "full"\nseeds = None\ndevice = "cpu"\n'


def make_book(root: Path, chapters: dict[str, str]) -> Path:
    """A minimal book at ``root`` whose chapters are the given percent-format sources."""
    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text('title: "Throwaway"\nexecute:\n  execute_notebooks: "off"\n')
    entries = "".join(f"  - file: book/{name}\n" for name in chapters)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: book/intro\nchapters:\n{entries}")
    (root / "book" / "intro.md").write_text("# Intro\n")
    for name, source in chapters.items():
        (root / "book" / f"{name}.py").write_text(textwrap.dedent(source))
    return root


@pytest.mark.parametrize("profile", ["full", "smoke"])  # smoke injects a parameters cell
def test_raising_cell_fails_the_build_and_names_chapter_and_cell(tmp_path: Path, profile: str) -> None:
    root = make_book(
        tmp_path / "b",
        {
            "01_fine": PARAMETERS + "# %%\nx = 1\n",
            "02_broken": PARAMETERS + "# %%\nx = 1\n\n# %%\nraise ValueError('the seeds disagree')\n",
        },
    )
    proc = run_build_tool("--root", str(root), "--no-html", "--profile", profile, timeout=300)
    assert proc.returncode != 0
    assert "book/02_broken.py: cell 3 of 3 raised ValueError: the seeds disagree" in proc.stderr
    assert "| raise ValueError('the seeds disagree')" in proc.stderr
    assert "book/01_fine.py" not in proc.stderr  # the good chapter is not blamed
    assert not (root / "book" / "02_broken.ipynb").exists(), "never execute in place"


def test_failed_claims_fail_the_build(tmp_path: Path) -> None:
    root = make_book(
        tmp_path / "b",
        {
            "01_claims": PARAMETERS
            + "# %%\nfrom misalign.claims import claim, check_claims\n"
            + "claim(2 + 2 == 5, 'arithmetic still works')\ncheck_claims()\n"
        },
    )
    proc = run_build_tool("--root", str(root), "--no-html", timeout=300)
    assert proc.returncode != 0
    assert "book/01_claims.py: cell 2 of 2 raised AssertionError: 1 of 1 claims failed" in proc.stderr
    assert "arithmetic still works" in proc.stderr


def test_smoke_profile_is_injected_full_is_not(tmp_path: Path) -> None:
    chapter = (
        PARAMETERS
        + """\
        # %%
        import os
        from misalign.claims import glue
        glue("profile", profile)
        glue("threads", os.environ["OMP_NUM_THREADS"])
        """
    )
    root = make_book(tmp_path / "b", {"01_profile": textwrap.dedent(chapter)})
    executed = root / "_build" / "executed" / "book" / "01_profile.ipynb"
    for profile, injected in (("smoke", True), ("full", False)):
        proc = run_build_tool("--root", str(root), "--no-html", "--profile", profile, timeout=300)
        assert proc.returncode == 0, proc.stderr
        tags = [t for c in nbformat.read(executed, 4).cells for t in c.metadata.get("tags", [])]
        assert ("injected-parameters" in tags) is injected
        record = json.loads((root / "_build" / "record.json").read_text())
        assert record["profile"] == profile
        assert record["chapters"]["01_profile"]["profile"]["value"] == profile
        assert record["chapters"]["01_profile"]["threads"]["value"] == "1"
        timings = json.loads((root / "_build" / "timings.json").read_text())
        assert set(timings["chapters"]) == {"book/01_profile.py"}


def test_chapter_timeout(tmp_path: Path) -> None:
    root = make_book(tmp_path / "b", {"01_slow": PARAMETERS + "# %%\nimport time\ntime.sleep(120)\n"})
    proc = run_build_tool("--root", str(root), "--no-html", "--timeout", "8", timeout=120)
    assert proc.returncode != 0
    assert "book/01_slow.py: raised Timeout: exceeded 8 s" in proc.stderr


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def _long_chapter_running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int, int]]:
    """A build whose one chapter starts a worker process and sleeps: yields the build tool, the
    kernel's pid and the worker's, once both run; afterwards kills whatever is left."""
    pids = tmp_path / "pids.txt"
    chapter = PARAMETERS + textwrap.dedent(f"""\
        # %%
        import os, subprocess, sys, time
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open({str(pids)!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{worker.pid}}")
        time.sleep(600)
        """)
    root = make_book(tmp_path / "b", {"01_long": chapter})
    tool = subprocess.Popen(
        [sys.executable, str(BUILD_TOOL), "--root", str(root), "--no-html"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (pids.is_file() and len(pids.read_text().split()) == 2):
            assert time.monotonic() < deadline, "the chapter never started"
            assert tool.poll() is None, "the build ended before the chapter ran"
            time.sleep(0.5)
        kernel, worker = map(int, pids.read_text().split())
        assert _alive(kernel) and _alive(worker)
        yield tool, kernel, worker
    finally:
        if tool.poll() is None:
            tool.kill()
        for pid in map(int, pids.read_text().split()) if pids.is_file() else ():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _wait_until_gone(*pids: int, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_killed_build_leaves_no_chapter_or_worker_process(tmp_path: Path) -> None:
    """SIGTERM to the build mid-chapter ends the chapter's kernel and the workers it started."""
    with _long_chapter_running(tmp_path) as (tool, kernel, worker):
        tool.send_signal(signal.SIGTERM)
        assert tool.wait(timeout=60) != 0
        _wait_until_gone(kernel, worker)
        assert not _alive(kernel), "the chapter's kernel outlived the build"
        assert not _alive(worker), "a worker the chapter started outlived the build"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_chapter_process_leaves_no_kernel_or_worker(tmp_path: Path, signum: int) -> None:
    """The chapter process itself killed (``pkill -f build_book`` matches it too; the OOM killer
    sends SIGKILL): its kernel runs in a session of its own and would outlive it, with the
    kernel's workers. SIGTERM is handled by the chapter process; after SIGKILL the build ends
    the descendants it has seen. The build goes on and reports the chapter as failed."""
    with _long_chapter_running(tmp_path) as (tool, kernel, worker):
        chapter_process = psutil.Process(kernel).ppid()
        assert "--execute-one" in psutil.Process(chapter_process).cmdline()
        time.sleep(2)  # the build looks for descendants every half second
        os.kill(chapter_process, signum)
        assert tool.wait(timeout=60) != 0, "a killed chapter must fail the build"
        _wait_until_gone(kernel, worker)
        assert not _alive(kernel), "the chapter's kernel outlived its chapter process"
        assert not _alive(worker), "a worker the chapter started outlived its chapter process"


def test_timings_count_policies_trained_and_loaded(tmp_path: Path) -> None:
    """A chapter that trains one policy, loads it twice and fine-tunes it: 1 trained, 1 distinct loaded."""
    cache = tmp_path / "cache"
    chapter = PARAMETERS + textwrap.dedent(f"""\
        # %%
        from misalign.ppo import PPOConfig, train, train_cached
        from misalign.scenarios import get_scenario
        sc = get_scenario("coin-at-exit")
        cfg = PPOConfig(total_steps=512, num_envs=16, num_steps=32, minibatch_size=512)
        first = train_cached(sc, 0, cfg, cache_dir={str(cache)!r})
        again = train_cached(sc, 0, cfg, cache_dir={str(cache)!r})
        train_cached(sc, 0, cfg, cache_dir={str(cache)!r})  # the same policy again: one distinct load
        train(sc, cfg, 0, init=again.policy)  # continuing a policy is not a new one
        """)
    root = make_book(tmp_path / "b", {"01_policies": chapter, "02_none": PARAMETERS})
    proc = run_build_tool("--root", str(root), "--no-html", timeout=300)
    assert proc.returncode == 0, proc.stderr
    timings = json.loads((root / "_build" / "timings.json").read_text())
    counted = timings["policies"]
    assert 0 < counted["book/01_policies.py"].pop("training_s") < timings["chapters"]["book/01_policies.py"]
    assert counted == {
        "book/01_policies.py": {"trained": 1, "loaded": 1},
        "book/02_none.py": {"trained": 0, "training_s": 0.0, "loaded": 0},
    }


def test_policy_log_lines_carry_training_seconds_and_reject_bad_input(tmp_path: Path, monkeypatch) -> None:
    from misalign.cache import POLICY_LOG_ENV, note_policy

    log = tmp_path / "policies.log"
    monkeypatch.setenv(POLICY_LOG_ENV, str(log))
    note_policy("trained", "room-corner-seed3", 12.3456)
    note_policy("loaded", "room-corner-abc")
    note_policy("trained", "room-corner-seed4", 0.5)
    assert count_policies(log) == {"trained": 2, "training_s": 12.846, "loaded": 1}
    with pytest.raises(ValueError, match="seconds"):
        note_policy("trained", "x", -1.0)
    with pytest.raises(ValueError, match="event.*'trained' or 'loaded'"):
        note_policy("fitted", "x")


def test_appendix_table_shows_policies_per_chapter() -> None:
    timings = {
        "profile": "full",
        "jobs": 2,
        "execute_wall_s": 12.0,
        "chapters": {"book/01_a.py": 10.0, "book/02_b.py": 2.0},
        "policies": {
            "book/01_a.py": {"trained": 40, "training_s": 15.25, "loaded": 3},
            "book/02_b.py": {"trained": 0, "loaded": 7},  # a record from before training times were kept
        },
    }
    table = render_appendix(timings, {"torch": "2.13.0"}, {"cores": 2})
    assert "| `book/01_a.py` | 10.0 | 40 | 15.2 | 3 |" in table
    assert "| `book/02_b.py` | 2.0 | 0 | 0.0 | 7 |" in table
