"""The build tool on throwaway books: failures name the chapter and cell; profiles; timeouts.

These execute tiny chapters only (no HTML), a few seconds each.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import run_build_tool

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
