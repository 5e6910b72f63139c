"""Is a feature represented? Linear probes from a network's hidden layers, with controls.

A probe (scikit-learn, ridge or logistic) maps one hidden layer's activations to a
feature and is scored on held-out levels, against the same probe fitted on shuffled
labels and on a randomly initialised twin network: a feature counts as represented
only where the trained network beats both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from misalign.agents import ActorCritic
from misalign.validation import check_choice

# ----------------------------------------------------------------------------- network readouts


@torch.no_grad()
def hidden_and_value(net: ActorCritic, obs: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every hidden layer's activations and the value estimate, as numpy arrays."""
    x = torch.as_tensor(obs, dtype=torch.float32)
    acts = net.activations(x)
    _, value = net(x)
    return {k: v.reshape(len(x), -1).numpy() for k, v in acts.items()}, value.numpy()


def random_network(like: ActorCritic, seed: int) -> ActorCritic:
    """A freshly initialised network of the same shape: the control that has learned nothing."""
    torch.manual_seed(seed)
    net = ActorCritic(like.obs_shape, like.n_actions, like.arch, like.hidden)
    net.eval()
    return net


# ----------------------------------------------------------------------------- probes


def _split_by_group(groups: np.ndarray, test_share: float, seed: int) -> np.ndarray:
    """A boolean test mask holding out whole groups (levels), so a probe cannot memorise a level."""
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    held = rng.choice(uniq, size=max(1, int(round(test_share * len(uniq)))), replace=False)
    return np.isin(groups, held)


def probe_score(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    kind: str = "regression",
    test_share: float = 0.3,
    shuffle: bool = False,
    seed: int = 0,
) -> float:
    """Held-out score of a linear probe from ``x`` to ``y``: R^2 (regression) or accuracy (classification).

    The probe is fitted on some groups (levels) and scored on the others. ``shuffle``
    permutes the training labels: the score a probe gets from nothing.
    """
    check_choice("kind", kind, ("regression", "classification"))
    x, y = np.asarray(x, dtype=float), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of rows (got {len(x)} and {len(y)})")
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    test = _split_by_group(groups, test_share, seed)
    y_train = y[~test].copy()
    if shuffle:
        y_train = np.random.default_rng(seed + 1).permutation(y_train)
    if kind == "regression":
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 7)))
        model.fit(x[~test], y_train)
        return float(r2_score(y[test], model.predict(x[test])))
    if len(np.unique(y_train)) < 2:
        return float(np.mean(y[test] == y_train[0]))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x[~test], y_train)
    return float(np.mean(model.predict(x[test]) == y[test]))


def probe_table(
    hidden: dict[str, np.ndarray],
    features: pd.DataFrame,
    names: Sequence[str],
    groups: np.ndarray,
    *,
    seed: int = 0,
    network: str = "trained",
) -> pd.DataFrame:
    """One row per (layer, feature): the held-out probe score, and the same probe on shuffled labels."""
    rows = []
    for layer, x in hidden.items():
        for name in names:
            y = features[name].to_numpy()
            kind = "classification" if name == "keys_held" else "regression"
            rows.append(
                {
                    "network": network,
                    "layer": layer,
                    "feature": name,
                    "score": probe_score(x, y, groups, kind=kind, seed=seed),
                    "shuffled": probe_score(x, y, groups, kind=kind, seed=seed, shuffle=True),
                    "metric": "accuracy" if kind == "classification" else "R2",
                }
            )
    return pd.DataFrame(rows)


def probe_direction(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The unit direction in activation space along which a ridge probe reads ``y`` (in raw, unscaled units)."""
    model = RidgeCV(alphas=np.logspace(-3, 3, 7)).fit(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    w = np.asarray(model.coef_, dtype=float).reshape(-1)
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("y must vary with x: the probe found no direction")
    return w / norm


def control_labels(types: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Hewitt and Liang's control task: each type (e.g. the coin's offset from the agent) gets a
    random label drawn from the real labels' distribution, the same label wherever it occurs.

    A probe can learn this task only by memorising types, so the gap between the real
    task's score and the control's (the *selectivity*) is what the representation adds
    beyond a probe's own capacity.
    """
    types, labels = np.asarray(types), np.asarray(labels)
    if len(types) != len(labels):
        raise ValueError(f"types and labels must have the same length (got {len(types)} and {len(labels)})")
    _, inverse = np.unique(types, axis=0 if types.ndim > 1 else None, return_inverse=True)
    inverse = inverse.reshape(-1)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(labels, size=inverse.max() + 1, replace=True)
    return drawn[inverse]


def selectivity(x: np.ndarray, labels: np.ndarray, types: np.ndarray, groups: np.ndarray, *, seed: int = 0) -> dict:
    """Held-out accuracy of a linear probe for ``labels``, of the same probe on the control task
    (:func:`control_labels` over ``types``), and their difference, the selectivity."""
    real = probe_score(x, labels, groups, kind="classification", seed=seed)
    control = probe_score(x, control_labels(types, labels, seed), groups, kind="classification", seed=seed)
    majority = float(pd.Series(labels).value_counts(normalize=True).iloc[0])
    return {"accuracy": real, "control": control, "selectivity": real - control, "majority": majority}
