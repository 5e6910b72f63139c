"""Chapter 3's experiments (book/03_goals.py): one seed's goal analysis of a trained policy.

The measures live in :mod:`misalign.states`, :mod:`misalign.probes`,
:mod:`misalign.goals` and :mod:`misalign.steering`; this module holds the sweep cell
chapter 3 runs: train (cached), then probe, correlate and steer the policy and a random
twin, returning one long table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from misalign.agents import ActorCritic
from misalign.goals import devaluation, value_correlations, value_validity
from misalign.ppo import PPOConfig, train_cached
from misalign.probes import hidden_and_value, probe_direction, probe_table, random_network
from misalign.registry import Entity
from misalign.scenarios import get_scenario
from misalign.states import States, cell_states, policy_states
from misalign.steering import decision_mask, goalward_share, random_direction, steered_probs

COIN_FEATURES = ("near_coin", "near_exit")
KEY_FEATURES = ("keys_held", "near_key", "near_chest", "next_chest", "chests_left")


def _probe_rows(net: ActorCritic, states: States, names: Sequence[str], network: str, seed: int) -> pd.DataFrame:
    hidden, _ = hidden_and_value(net, states.obs)
    return probe_table(hidden, states.table, names, states.table["level"].to_numpy(), seed=seed, network=network)


def _value_rows(net: ActorCritic, states: States, names: Sequence[str], network: str, split: str) -> pd.DataFrame:
    _, value = hidden_and_value(net, states.obs)
    table = value_correlations(value, states.table[list(names)], names)
    table.insert(0, "split", split)
    table.insert(0, "network", network)
    return table


def _steer_rows(
    net: ActorCritic,
    states: States,
    paired_obs: np.ndarray,
    goal: str,
    rival: str,
    layer: str,
    seed: int,
    probe: tuple[np.ndarray, np.ndarray],
    n_random: int = 5,
) -> list[dict]:
    """Goal-ward share at decision states under each edit of hidden layer ``layer``.

    The steering vector is, per level, the mean activation difference between
    ``paired_obs`` and the states' own observations (Turner et al.'s recipe: one vector
    per maze, applied at every position in it); the probe direction is the ridge probe
    fitted on ``probe = (observations, feature values)``, signed to agree with the
    vectors and scaled to their norm; random vectors of the same norms are the control.
    """
    hidden, _ = hidden_and_value(net, states.obs)
    paired, _ = hidden_and_value(net, paired_obs)
    diff = paired[layer] - hidden[layer]
    levels = states.table["level"].to_numpy()
    _, inverse = np.unique(levels, return_inverse=True)
    per_level = np.stack([diff[inverse == g].mean(axis=0) for g in range(inverse.max() + 1)])
    vector = per_level[inverse]
    norms = np.linalg.norm(vector, axis=1, keepdims=True)
    u = probe_direction(hidden_and_value(net, probe[0])[0][layer], probe[1])
    signed = np.sign(u @ per_level.mean(axis=0)) or 1.0
    dim = diff.shape[1]

    def random_vectors(i: int) -> np.ndarray:
        v = np.random.default_rng(seed * 101 + i).normal(size=(len(per_level), dim))
        return (v / np.linalg.norm(v, axis=1, keepdims=True))[inverse] * norms

    conditions = {
        "unsteered": steered_probs(net, states.obs, layer)[0],
        "input edited": steered_probs(net, paired_obs, layer)[0],
        "steering vector": steered_probs(net, states.obs, layer, vector)[0],
        "probe direction": steered_probs(net, states.obs, layer, signed * norms * u[None, :])[0],
        "probe direction ablated": steered_probs(net, states.obs, layer, project_out=u)[0],
    }
    rows = [{"condition": k, "share": goalward_share(p, states, goal, rival)} for k, p in conditions.items()]
    rand = [steered_probs(net, states.obs, layer, random_vectors(i))[0] for i in range(n_random)]
    rows.append(
        {"condition": "random vector", "share": float(np.mean([goalward_share(p, states, goal, rival) for p in rand]))}
    )
    ablate = [
        steered_probs(net, states.obs, layer, project_out=random_direction(dim, 1.0, seed * 101 + 50 + i))[0]
        for i in range(n_random)
    ]
    rows.append(
        {
            "condition": "random direction ablated",
            "share": float(np.mean([goalward_share(p, states, goal, rival) for p in ablate])),
        }
    )
    for r in rows:
        r.update(
            {
                "layer": layer,
                "goal": goal,
                "rival": rival,
                "norm": float(norms.mean()),
                "n_decision": int(decision_mask(states, goal, rival).sum()),
            }
        )
    return rows


def goal_analysis(
    scenario: str,
    seed: int,
    total_steps: int,
    n_levels: int = 48,
    n_episodes: int = 128,
    epsilon: float = 0.2,
    **overrides,
) -> dict[str, pd.DataFrame]:
    """One sweep cell of Framing 2: train (cached) a policy, then probe, correlate and steer it and a random twin.

    Returns named tables: ``probe`` (held-out probe scores), ``value`` (correlations with
    the value head, on the scenario's test and training states), ``steer`` (goal-ward
    share at decision states), ``validity`` (does the value head track returns) and, for
    keys-chests, ``devalue`` (a key's worth with and without chests).
    Coin scenarios use the agent placed on every cell; keys-chests uses the states visited
    by the trained policy with ``epsilon`` random actions (to see keys in hand).
    """
    sc = get_scenario(scenario, **overrides)
    net = train_cached(sc, seed, PPOConfig(total_steps=total_steps)).policy
    coin_world = Entity.COIN in sc.entities
    twin = random_network(net, 10_000 + seed)
    tables: dict[str, list[pd.DataFrame]] = {"probe": [], "value": [], "steer": [], "validity": [], "devalue": []}
    if coin_world:
        names, by_split = COIN_FEATURES, {s: cell_states(sc, s, n_levels) for s in ("test", "train")}
    else:
        names = KEY_FEATURES
        by_split = {s: policy_states(net, sc, s, n_episodes, seed=seed, epsilon=epsilon) for s in ("train", "test")}
    main = "test" if coin_world else "train"
    for network, model in (("trained", net), ("random", twin)):
        tables["probe"].append(_probe_rows(model, by_split[main], names, network, seed).assign(split=main))
        for split, states in by_split.items():
            tables["value"].append(_value_rows(model, states, names, network, split))
    steer = []
    if coin_world:
        coin_gone = cell_states(sc, "test", n_levels, without=Entity.COIN).obs
    else:
        no_key = cell_states(sc, "train", n_levels)  # no key in hand, every chest closed
        one_key = cell_states(sc, "train", n_levels, keys_held=1).obs
    for network, model in (("trained", net), ("random", twin)):
        for layer in ("h1", "h2"):
            if coin_world:
                # the coin vector: activations without the coin minus with it; adding it should turn the agent
                # away from the coin (toward the exit) if the coin is what it pursues
                st = by_split["test"]
                rows = _steer_rows(
                    model,
                    st,
                    coin_gone,
                    Entity.COIN,
                    Entity.EXIT,
                    layer,
                    seed,
                    (st.obs, st.table["near_coin"].to_numpy()),
                )
            else:
                # the key vector: activations holding a key minus holding none; adding it should turn the agent
                # from the keys to the chests if holding a key is what tells it to open chests
                src = by_split["train"]
                rows = _steer_rows(
                    model,
                    no_key,
                    one_key,
                    Entity.CHEST,
                    Entity.KEY,
                    layer,
                    seed,
                    (src.obs, src.table["keys_held"].to_numpy()),
                )
            steer += [dict(r, network=network) for r in rows]
    tables["steer"].append(pd.DataFrame(steer))
    for network, model in (("trained", net), ("random", twin)):
        # on training levels: where the head was fitted; at test a misgeneralized value is *wrong*, not absent
        played = policy_states(model, sc, "train", n_episodes, seed=seed, epsilon=epsilon)
        tables["validity"].append(pd.DataFrame([{"network": network, "validity": value_validity(model, played)}]))
    if Entity.KEY in sc.entities:
        tables["devalue"].append(devaluation(net, sc, n_levels).assign(network="trained"))
        tables["devalue"].append(devaluation(twin, sc, n_levels).assign(network="random"))
    return {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items() if parts}
