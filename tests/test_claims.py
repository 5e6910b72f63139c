"""Unit tests of misalign.claims: glue records, drift comparison, claim failures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from misalign import claims


@pytest.fixture()
def glued(monkeypatch) -> dict:
    """What myst_nb.glue received (outside a kernel it displays nothing)."""
    import myst_nb

    seen: dict = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.update({name: value}))
    return seen


@pytest.fixture(autouse=True)
def record_env(tmp_path, monkeypatch):
    monkeypatch.setenv(claims.RECORD_DIR_ENV, str(tmp_path / "records"))
    monkeypatch.setenv(claims.CHAPTER_ENV, "07_unit")
    claims.reset()
    yield tmp_path / "records"
    claims.reset()


def _record(record_env) -> dict:
    return json.loads((record_env / "07_unit.json").read_text())


def test_glue_records_value_and_tolerance(record_env) -> None:
    claims.glue("rate", 0.5, tolerance=0.01)
    claims.glue("label", "exit")
    assert _record(record_env) == {
        "chapter": "07_unit",
        "values": {"rate": {"value": 0.5, "tolerance": 0.01}, "label": {"value": "exit", "tolerance": None}},
    }
    assert [p.name for p in record_env.iterdir()] == ["07_unit.json"], "no temp files left"


def test_glue_converts_numpy_scalars(record_env, glued) -> None:
    value = claims.glue("mean", np.float64(0.25), tolerance=0.1)
    assert type(value) is float and type(glued["mean"]) is float  # repr "0.25", not np.float64
    assert _record(record_env)["values"]["mean"]["value"] == 0.25


def test_glue_fmt_shows_text_but_records_raw_value(record_env, glued) -> None:
    claims.glue("ci", 0.123456, fmt=".2f")
    assert glued["ci"] == "0.12"
    assert _record(record_env)["values"]["ci"]["value"] == 0.123456


def test_glue_rejects_tolerance_on_non_numbers() -> None:
    with pytest.raises(TypeError, match="tolerance needs a number"):
        claims.glue("name", "exit", tolerance=0.1)
    with pytest.raises(ValueError, match="not finite"):
        claims.glue("bad", float("nan"))


def test_glue_overwrites_a_reglued_name(record_env) -> None:
    claims.glue("x", 1)
    claims.glue("x", 2)
    assert _record(record_env)["values"] == {"x": {"value": 2, "tolerance": None}}


def test_collect_records(record_env) -> None:
    claims.glue("x", 1)
    assert claims.collect_records(record_env) == {"07_unit": {"x": {"value": 1, "tolerance": None}}}


def _v(value, tolerance=None) -> dict:
    return {"value": value, "tolerance": tolerance}


def test_compare_records_within_and_beyond_tolerance() -> None:
    ref = {"ch": {"a": _v(0.50, 0.02), "b": _v(3)}}
    assert claims.compare_records(ref, {"ch": {"a": _v(0.515, 0.02), "b": _v(3)}}) == []
    drifts = claims.compare_records(ref, {"ch": {"a": _v(0.53, 0.02), "b": _v(4)}})
    assert [(d.name, "tolerance" in d.reason) for d in drifts] == [("a", True), ("b", True)]
    assert str(drifts[0]).startswith("ch:a: 0.53 differs from reference 0.5")


def test_compare_records_strings_and_bools_are_exact() -> None:
    ref = {"ch": {"goal": _v("exit"), "ok": _v(True)}}
    assert claims.compare_records(ref, ref) == []
    drifts = claims.compare_records(ref, {"ch": {"goal": _v("coin"), "ok": _v(1)}})
    assert {d.name for d in drifts} == {"goal", "ok"}
    assert all("exact" in d.reason for d in drifts)


def test_compare_records_flags_missing_and_new_values() -> None:
    drifts = claims.compare_records({"ch": {"old": _v(1)}}, {"ch": {"new": _v(1)}, "ch2": {"z": _v(0)}})
    reasons = {(d.chapter, d.name): d.reason for d in drifts}
    assert reasons == {
        ("ch", "new"): "not in the reference record",
        ("ch", "old"): "missing from this build",
        ("ch2", "z"): "not in the reference record",
    }


def test_check_claims_lists_every_failed_claim() -> None:
    assert claims.claim(True, "fine")
    assert not claims.claim(False, "the interval contains 0.7")
    claims.claim(False, "at least 10 seeds")
    with pytest.raises(AssertionError) as info:
        claims.check_claims()
    message = str(info.value)
    assert "2 of 3 claims failed in chapter '07_unit'" in message
    assert "  - the interval contains 0.7\n  - at least 10 seeds" in message
    assert "fine" not in message
    claims.check_claims()  # the failed claims were reported once, then forgotten


def test_check_claims_passes_when_all_hold() -> None:
    claims.claim(1 < 2, "ordering")
    claims.check_claims()


def test_default_record_location(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(claims.RECORD_DIR_ENV)
    monkeypatch.delenv(claims.CHAPTER_ENV)
    monkeypatch.chdir(tmp_path)
    claims.set_chapter("03_goals")
    try:
        assert claims.record_path() == claims.DEFAULT_RECORD_DIR / "03_goals.json"
    finally:
        claims.set_chapter(None)  # type: ignore[arg-type]


def test_interval_tolerance_is_the_larger_half_width_with_a_floor(record_env, glued) -> None:
    claims.glue_interval("wide", (0.6, 0.45, 0.7), tolerance="interval")
    claims.glue_interval("flat", (1.0, 1.0, 1.0), tolerance="interval")
    values = _record(record_env)["values"]
    assert values["wide"]["tolerance"] == pytest.approx(0.15)
    assert values["wide_high"]["tolerance"] == pytest.approx(0.15)
    assert values["flat"]["tolerance"] == claims.INTERVAL_FLOOR
    with pytest.raises(ValueError, match="tolerance must be a number, None or 'interval'"):
        claims.glue_interval("bad", (0.5, 0.4, 0.6), tolerance="seed")


def test_count_tolerance_is_the_clopper_pearson_half_width_in_seeds(record_env, glued) -> None:
    claims.glue_count("all", 10, 10)
    claims.glue_count("half", 10, 20)
    values = _record(record_env)["values"]
    assert values["all"]["value"] == 10
    cp_low = 0.025 ** (1 / 10)  # two-sided Clopper-Pearson lower bound of 10 of 10
    assert values["all"]["tolerance"] == pytest.approx(10 * (1 - cp_low), rel=1e-6)
    assert 2.0 < values["half"]["tolerance"] < 5.0  # 10 of 20: about +-0.23, i.e. +-4.5 seeds
    with pytest.raises(ValueError, match="0 <= k <= n"):
        claims.glue_count("bad", 11, 10)
    with pytest.raises(TypeError, match="k must be a whole number"):
        claims.glue_count("bad", 9.5, 10)
