"""The chapter kit: profiles, parameter validation, claim enforcement, glued intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from misalign import claims
from misalign.budgets import MIN_TRAINING_STEPS, scaled_budget
from misalign.chapter import Chapter, Profile, check_seeds, open_chapter

PROFILES = {
    "full": Profile(n_seeds=10, settings={"episodes": 256}),
    "smoke": Profile(n_seeds=2, enforce_claims=False, budget_scale=0.05, settings={"episodes": 32}),
}


@pytest.fixture(autouse=True)
def record_env(tmp_path, monkeypatch):
    monkeypatch.setenv(claims.RECORD_DIR_ENV, str(tmp_path / "records"))
    monkeypatch.setenv(claims.CHAPTER_ENV, "07_kit")
    claims.reset()
    yield tmp_path / "records"
    claims.reset()


@pytest.fixture()
def glued(monkeypatch) -> dict:
    """What myst_nb.glue received."""
    import myst_nb

    seen: dict = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.update({name: value}))
    return seen


# --- open_chapter: the parameters --------------------------------------------------


def test_open_chapter_returns_profile_seeds_settings() -> None:
    ch = open_chapter(PROFILES, "smoke", None, "cpu")
    assert isinstance(ch, Chapter)
    assert ch.profile is PROFILES["smoke"] and ch.profile_name == "smoke"
    assert ch.seeds == [0, 1]
    assert ch.settings["episodes"] == 32
    assert ch.device == "cpu"
    assert open_chapter(PROFILES, "full", [3, 1], "cpu").seeds == [3, 1]
    assert open_chapter(PROFILES, "full", (np.int64(4),), "cpu").seeds == [4]


def test_settings_are_read_only() -> None:
    ch = open_chapter(PROFILES, "full", None, "cpu")
    with pytest.raises(TypeError):
        ch.settings["episodes"] = 1  # type: ignore[index]


@pytest.mark.parametrize("profile", ["fast", "Full", "", None, 1])
def test_unknown_profile_names_parameter_and_accepted_values(profile) -> None:
    with pytest.raises(ValueError) as err:
        open_chapter(PROFILES, profile, None, "cpu")
    text = str(err.value)
    assert "profile" in text and "'full'" in text and "'smoke'" in text


@pytest.mark.parametrize(
    "seeds, fragment",
    [
        ([-1], "seeds[0]"),
        ([0, 1, 1], "1 repeated"),
        ([True], "seeds[0]"),
        (["3"], "seeds[0]"),
        ("0,1", "seeds must be"),
        ([1.0], "seeds[0]"),
        ([0, 2.5], "seeds[1]"),
        ([], "not empty"),
        (3, "seeds must be"),
        ({0, 1}, "seeds must be"),
    ],
)
def test_bad_seeds_are_refused_naming_the_parameter(seeds, fragment) -> None:
    with pytest.raises(ValueError) as err:
        open_chapter(PROFILES, "full", seeds, "cpu")
    assert fragment in str(err.value)
    assert "seeds" in str(err.value)


def test_check_seeds_returns_plain_ints() -> None:
    out = check_seeds("seeds", [np.int32(2), 0])
    assert out == [2, 0] and all(type(s) is int for s in out)


def test_bad_device_is_refused(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("gpu", "cuda", None, 0):
        with pytest.raises(ValueError, match=r"device .*accepted: 'cpu'"):
            open_chapter(PROFILES, "full", None, device)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert open_chapter(PROFILES, "full", None, "cuda").device == "cuda"


def test_every_bad_parameter_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as err:
        open_chapter(PROFILES, "fast", [-1], "tpu")
    text = str(err.value)
    assert "profile" in text and "seeds" in text and "device" in text


def test_profiles_must_be_profile_objects() -> None:
    with pytest.raises(ValueError, match="Profile"):
        open_chapter({"full": {"n_seeds": 10}}, "full", None, "cpu")  # type: ignore[dict-item]


# --- Profile -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_seeds": 0}, "n_seeds"),
        ({"n_seeds": "10"}, "n_seeds"),
        ({"n_seeds": 2, "enforce_claims": "yes"}, "enforce_claims"),
        ({"n_seeds": 2, "budget_scale": 0}, "budget_scale"),
        ({"n_seeds": 2, "budget_scale": "0.5"}, "budget_scale"),
        ({"n_seeds": 2, "settings": {"n_seeds": 3}}, "n_seeds"),
        ({"n_seeds": 2, "settings": {"budget_scale": 1.0}}, "budget_scale"),
    ],
)
def test_profile_validates_its_fields(kwargs, fragment) -> None:
    with pytest.raises(ValueError, match=fragment):
        Profile(**kwargs)


@pytest.mark.parametrize(
    "scale, total, expected",
    [
        (1.0, 4_000_000, 4_000_000),
        (0.05, 4_000_000, 200_000),
        (0.05, 1_000_000, 50_000),
        (0.05, 100_000, 8192),  # 5_000 is below the minimum
        (0.05, 163_840, 8192),
        (0.05, 163_860, 8193),  # int() truncates
        (1.0, 1000, 8192),
    ],
)
def test_budget_rule(scale, total, expected) -> None:
    profile = Profile(n_seeds=1, budget_scale=scale)
    assert profile.budget(total) == expected == max(8192, int(total * scale))
    assert scaled_budget(total, scale) == expected
    assert MIN_TRAINING_STEPS == 8192


def test_budget_refuses_non_integers() -> None:
    with pytest.raises(ValueError, match="total_steps"):
        Profile(n_seeds=1).budget("1000")  # type: ignore[arg-type]


# --- claims: the profile decides -----------------------------------------------------


def test_claims_enforced_in_full() -> None:
    open_chapter(PROFILES, "full", None, "cpu")
    assert claims.claims_enforced()
    claims.claim(True, "holds")
    claims.claim(False, "does not hold")
    with pytest.raises(AssertionError, match=r"(?s)1 of 2 claims failed.*does not hold"):
        claims.check_claims()


def test_claims_not_enforced_in_smoke(capsys) -> None:
    open_chapter(PROFILES, "smoke", None, "cpu")
    assert not claims.claims_enforced()
    claims.claim(False, "does not hold")
    assert claims.check_claims() is None
    out = capsys.readouterr().out
    assert "1 of 1 claims failed" in out and "not enforced in profile 'smoke'" in out
    assert "does not hold" in out


def test_claims_pass_silently_in_either_profile(capsys) -> None:
    for name in PROFILES:
        open_chapter(PROFILES, name, None, "cpu")
        claims.claim(True, "holds")
        claims.check_claims()
    assert capsys.readouterr().out == ""


def test_enforcement_defaults_to_on_and_reset_restores_it() -> None:
    assert claims.claims_enforced()
    open_chapter(PROFILES, "smoke", None, "cpu")
    claims.reset()
    assert claims.claims_enforced()


def test_a_failed_open_changes_nothing() -> None:
    claims.set_enforcement(False)
    with pytest.raises(ValueError):
        open_chapter(PROFILES, "fast", None, "cpu")
    assert not claims.claims_enforced()


# --- glue_interval -------------------------------------------------------------------


def _values(record_env) -> dict:
    return json.loads((record_env / "07_kit.json").read_text())["values"]


def test_glue_interval_records_three_names(record_env, glued) -> None:
    out = claims.glue_interval("test_exit", (np.float64(0.5), 0.25, 0.75), tolerance=0.05, fmt=".0%")
    assert out == (0.5, 0.25, 0.75) and all(type(v) is float for v in out)
    assert _values(record_env) == {
        "test_exit": {"value": 0.5, "tolerance": 0.05},
        "test_exit_low": {"value": 0.25, "tolerance": 0.05},
        "test_exit_high": {"value": 0.75, "tolerance": 0.05},
    }
    assert glued == {"test_exit": "50%", "test_exit_low": "25%", "test_exit_high": "75%"}


def test_glue_interval_records_what_three_glues_record(record_env, tmp_path, monkeypatch, glued) -> None:
    claims.glue_interval("a", (1.5, 1.0, 2.0), tolerance=0.1, fmt=".1f", suffixes=("", "_lo", "_hi"))
    via_interval = _values(record_env)
    claims.reset()
    monkeypatch.setenv(claims.RECORD_DIR_ENV, str(tmp_path / "by_hand"))
    claims.glue("a", 1.5, tolerance=0.1, fmt=".1f")
    claims.glue("a_lo", 1.0, tolerance=0.1, fmt=".1f")
    claims.glue("a_hi", 2.0, tolerance=0.1, fmt=".1f")
    by_hand = json.loads((tmp_path / "by_hand" / "07_kit.json").read_text())["values"]
    assert via_interval == by_hand


def test_glue_interval_suffixes(record_env, glued) -> None:
    claims.glue_interval("coin_at_exit", (0.6, 0.5, 0.7), suffixes=("_share", "_low", "_high"))
    assert set(_values(record_env)) == {"coin_at_exit_share", "coin_at_exit_low", "coin_at_exit_high"}


@pytest.mark.parametrize(
    "interval, error",
    [
        ((0.5, 0.6, 0.7), ValueError),  # mean below low
        ((0.5, 0.1), ValueError),
        ((0.5, float("nan"), 0.7), ValueError),
        (("0.5", 0.1, 0.7), TypeError),
        ({"mean": 0.5, "low": 0.1, "high": 0.7}, TypeError),
        (0.5, TypeError),
    ],
)
def test_glue_interval_refuses_bad_intervals(interval, error, record_env, glued) -> None:
    with pytest.raises(error, match="glue_interval 'x'"):
        claims.glue_interval("x", interval)
    assert glued == {}, "nothing is glued when the interval is refused"
