"""Pre-registered hypotheses: a real effect is supported, a null one is not, Holm over the family can
overturn a borderline verdict, a confirm run's flips are named, and bad declarations fail at once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from misalign.hypotheses import (
    DIRECTIONS,
    NOT_SUPPORTED,
    SUPPORTED,
    TESTS,
    Hypothesis,
    Preregistration,
    evaluate,
    same_verdicts,
)
from scipy import stats as sps

FAST = 999  # bootstrap and permutation draws: enough for these clear-cut cases, quick on 2 cores

# per-seed values: an effect well above 0.5, values spread symmetrically about 0.5, a seed-verdict split
RNG = np.random.default_rng(7)
EFFECT = 0.5 + np.abs(RNG.normal(0.3, 0.05, 12))
NULL = np.array([0.5 - d for d in (0.1, 0.2, 0.3, 0.05)] + [0.5 + d for d in (0.1, 0.2, 0.3, 0.05)])


def prereg(*hypotheses: Hypothesis) -> Preregistration:
    return Preregistration(hypotheses)


def test_a_true_effect_is_supported_and_a_null_one_is_not() -> None:
    family = prereg(
        Hypothesis("H1", "inner share of policies exceeds one half", "effect", "greater", "wilcoxon", null=0.5),
        Hypothesis("H2", "placebo share exceeds one half", "placebo", "greater", "wilcoxon", null=0.5),
        Hypothesis("H3", "median inner share exceeds one half", "effect", "greater", "sign", null=0.5),
        Hypothesis("H4", "median placebo share differs from one half", "placebo", "two-sided", "sign", null=0.5),
    )
    table = evaluate(family, {"effect": EFFECT, "placebo": NULL}, n_resamples=FAST)
    assert table["verdict"].tolist() == [SUPPORTED, NOT_SUPPORTED, SUPPORTED, NOT_SUPPORTED]
    assert table.loc[3, "p"] == 1.0  # four seeds above, four below
    assert (table["p_holm"] >= table["p"]).all()
    assert ((table["low"] <= table["estimate"]) & (table["estimate"] <= table["high"])).all()
    assert table["estimand"].tolist() == ["mean", "mean", "median", "median"]
    assert table.loc[0, "estimate"] == pytest.approx(EFFECT.mean()) and table.loc[0, "low"] > 0.5


def test_the_modal_verdict_of_most_seeds_by_binomial_test() -> None:
    statement = "coin-at-exit-v1: inner misalignment is the modal verdict of most seeds"
    h = Hypothesis("modal", statement, "verdicts", "greater", "binomial", null=0.5, expected="inner")
    strong = evaluate(prereg(h), {"verdicts": ["inner"] * 18 + ["capability failure"] * 2})
    row = strong.iloc[0]
    assert row["verdict"] == SUPPORTED and row["n"] == 20
    assert (row["estimate"], row["low"], row["high"]) == pytest.approx((0.9, 0.683, 0.988), abs=1e-3)
    # the 8-of-20 split that a fresh-seed rerun found: not supported
    weak = evaluate(prereg(h), {"verdicts": ["inner"] * 8 + ["capability failure"] * 12})
    assert weak.iloc[0]["verdict"] == NOT_SUPPORTED
    # booleans work without `expected`
    booleans = Hypothesis("b", statement, "hit", "greater", "binomial", null=0.5)
    assert evaluate(prereg(booleans), {"hit": [True] * 18 + [False] * 2}).iloc[0]["p"] == row["p"]


def test_holm_overturns_a_borderline_verdict() -> None:
    borderline = Hypothesis("B", "10 of 13 seeds", "hit", "greater", "binomial", null=0.5)
    p = sps.binomtest(10, 13, 0.5, alternative="greater").pvalue
    assert 0.025 < p < 0.05  # significant alone, not once doubled
    data = {"hit": [1] * 10 + [0] * 3, "effect": EFFECT, "placebo": NULL}
    alone = evaluate(prereg(borderline), data)
    assert alone.iloc[0]["verdict"] == SUPPORTED and alone.iloc[0]["p_holm"] == pytest.approx(p)
    family = prereg(
        Hypothesis("A", "strong", "effect", "greater", "wilcoxon", null=0.5),
        borderline,
        Hypothesis("C", "placebo", "placebo", "greater", "wilcoxon", null=0.5),
    )
    table = evaluate(family, data, n_resamples=FAST).set_index("id")
    assert table.loc["B", "p"] == pytest.approx(p)
    assert table.loc["B", "p_holm"] == pytest.approx(2 * p)  # second smallest of three: times 2
    assert table["verdict"].to_dict() == {"A": SUPPORTED, "B": NOT_SUPPORTED, "C": NOT_SUPPORTED}


def test_two_group_tests_and_their_direction() -> None:
    low = EFFECT - 0.3
    family = prereg(
        Hypothesis("mw", "full view beats MLP", "egocentric", "greater", "mann-whitney", versus="mlp"),
        Hypothesis("perm", "mean full view beats MLP", "egocentric", "greater", "permutation", versus="mlp"),
        Hypothesis("wrong", "MLP beats full view", "egocentric", "less", "mann-whitney", versus="mlp"),
        Hypothesis("shift", "beats MLP by over 0.5", "egocentric", "greater", "permutation", null=0.5, versus="mlp"),
    )
    table = evaluate(family, {"egocentric": EFFECT, "mlp": low}, n_resamples=FAST).set_index("id")
    assert table["verdict"].to_dict() == {
        "mw": SUPPORTED,
        "perm": SUPPORTED,
        "wrong": NOT_SUPPORTED,
        "shift": NOT_SUPPORTED,
    }
    assert table.loc["mw", "estimate"] == 1.0  # every seed of one beats every seed of the other
    assert table.loc["perm", "estimate"] == pytest.approx(0.3)
    assert table.loc["mw", "n_versus"] == 12 and table["estimand"]["mw"] == "P(egocentric > mlp)"


def test_a_confirm_run_names_the_hypotheses_that_flipped() -> None:
    family = prereg(
        Hypothesis("H1", "most seeds inner", "verdicts", "greater", "binomial", null=0.5, expected="inner"),
        Hypothesis("H2", "share above one half", "share", "greater", "wilcoxon", null=0.5),
    )
    published = evaluate(family, {"verdicts": ["inner"] * 19 + ["other"], "share": EFFECT}, n_resamples=FAST)
    confirm = evaluate(family, {"verdicts": ["inner"] * 8 + ["other"] * 12, "share": EFFECT[::-1]}, n_resamples=FAST)
    assert same_verdicts(published, published).empty
    flips = same_verdicts(published, confirm)
    assert flips[["id", "verdict_a", "verdict_b"]].values.tolist() == [["H1", SUPPORTED, NOT_SUPPORTED]]
    with pytest.raises(ValueError, match="same hypotheses"):
        same_verdicts(published, confirm.iloc[:1])


def test_evaluation_is_reproducible_and_the_declaration_is_fingerprinted() -> None:
    h = Hypothesis("H1", "mean above one half", "share", "greater", "permutation", versus="other")
    data = {"share": EFFECT, "other": NULL}
    first, again = (evaluate(prereg(h), data, seed=1, n_resamples=FAST) for _ in range(2))
    assert first.equals(again)
    table = prereg(h).table()
    assert table.columns.tolist() == ["id", "statement", "quantity", "direction", "null", "versus", "test", "alpha"]
    assert prereg(h).digest() == prereg(h).digest()
    edited = Hypothesis("H1", "mean above one half", "share", "greater", "permutation", null=0.1, versus="other")
    assert prereg(edited).digest() != prereg(h).digest()


def _h(**changes) -> Hypothesis:
    base = {"id": "H1", "statement": "s", "quantity": "q", "direction": "greater", "test": "wilcoxon"}
    return Hypothesis(**{**base, **changes})


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: prereg(_h(), _h(statement="again")), "id must be unique"),
        (lambda: _h(test="t-test"), "test 't-test'; accepted: 'sign', 'wilcoxon'"),
        (lambda: _h(direction="up"), "direction 'up'; accepted: 'greater', 'less', 'two-sided'"),
        (lambda: _h(alpha=1.5), "alpha"),
        (lambda: prereg(_h(), _h(id="H2", alpha=0.01)), "alpha"),
        (lambda: _h(id=""), "id"),
        (lambda: _h(test="mann-whitney"), "versus"),
        (lambda: _h(versus="other"), "versus"),
        (lambda: _h(expected="inner"), "expected"),
        (lambda: _h(test="binomial", null=1.0), "null"),
        (lambda: prereg(), "hypotheses"),
        (lambda: evaluate(prereg(_h()), {"other": [1.0, 2.0]}), "quantity 'q'"),
        (lambda: evaluate(prereg(_h(test="binomial", null=0.5)), {"q": ["a", "b"]}), "expected"),
    ],
)
def test_bad_declarations_name_the_parameter(call, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        call()


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(
    values=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12),
    test=st.sampled_from([name for name, t in TESTS.items() if t.groups == 1 and name != "binomial"]),
    direction=st.sampled_from(DIRECTIONS),
)
def test_every_reported_interval_holds_its_estimate(values: list[float], test: str, direction: str) -> None:
    h = Hypothesis("H", "s", "q", direction, test, null=0.5)
    row = evaluate(prereg(h), {"q": values}, n_resamples=199).iloc[0]
    assert 0.0 <= row["p"] <= row["p_holm"] <= 1.0
    assert row["low"] <= row["estimate"] <= row["high"]
