"""Pre-registered verdicts confirmed on fresh seeds: the confirm profile, the page's sentence, the build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_build_tool
from misalign.chapter import CONFIRM_FIRST_SEED, Profile, confirm_profile
from misalign.confirm import CONFIRM_RECORD_ENV, confirmation, seed_span, verdicts_in
from test_failing_chapter import PARAMETERS, make_book


def test_confirm_profile_is_the_published_one_on_fresh_seeds() -> None:
    full = Profile(n_seeds=10, budget_scale=1.0, settings={"episodes": 500})
    confirm = confirm_profile(full)
    assert confirm.default_seeds() == list(range(CONFIRM_FIRST_SEED, CONFIRM_FIRST_SEED + 10))
    assert not set(confirm.default_seeds()) & set(full.default_seeds())
    assert (confirm.n_seeds, confirm.budget_scale, dict(confirm.settings)) == (10, 1.0, {"episodes": 500})
    assert not confirm.enforce_claims  # verdicts are its output, not a condition of the build
    with pytest.raises(ValueError, match="first_seed"):
        confirm_profile(full, first_seed=-1)


def _record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: dict | None) -> None:
    path = tmp_path / "confirm_record.json"
    if entry is not None:
        path.write_text(json.dumps({"01_x": entry}))
    monkeypatch.setenv(CONFIRM_RECORD_ENV, str(path))


def test_the_page_says_whether_fresh_seeds_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    published = {"H1": "supported", "H2": "not supported"}
    _record(tmp_path, monkeypatch, None)
    assert confirmation("01_x", published).startswith("not run yet")
    _record(tmp_path, monkeypatch, {"seeds": "1000–1019", "verdicts": dict(published)})
    assert confirmation("01_x", published) == "every verdict held on seeds 1000–1019"
    _record(tmp_path, monkeypatch, {"seeds": "1000–1019", "verdicts": {"H1": "supported", "H2": "supported"}})
    assert confirmation("01_x", published) == "on seeds 1000–1019, H2 was supported (here not supported)"
    _record(tmp_path, monkeypatch, {"seeds": "1000–1019", "verdicts": {"H3": "supported"}})
    assert "another set of hypotheses" in confirmation("01_x", published)


def test_verdicts_are_read_back_from_a_record() -> None:
    record = {"verdict_H1": {"value": "supported"}, "steps": {"value": 3}, "verdict_H2": {"value": "not supported"}}
    assert verdicts_in(record) == {"H1": "supported", "H2": "not supported"}
    assert seed_span([3, 1, 2]) == "1–3" and seed_span([0, 5]) == "0, 5"


@pytest.mark.book
def test_the_confirm_build_runs_only_chapters_with_a_confirm_profile(tmp_path: Path) -> None:
    body = PARAMETERS + '# %%\nfrom misalign.claims import glue\nglue("who", "ran")\n'
    root = make_book(tmp_path / "b", {"01_with": body + "# confirm_profile(FULL) declared here\n", "02_without": body})
    proc = run_build_tool("--root", str(root), "--no-html", "--profile", "confirm", timeout=300)
    assert proc.returncode == 0, proc.stderr
    timings = json.loads((root / "_build" / "timings.json").read_text())
    assert set(timings["chapters"]) == {"book/01_with.py"}
