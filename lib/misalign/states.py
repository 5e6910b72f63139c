"""States of a scenario with the outcome features a goal could be about.

Framing 2 asks which features of outcomes a policy's value estimates track. The
features here are *discounted proximities* ``gamma ** distance`` to each thing (0 when
it is absent), the unit in which an optimal value function is linear in them. States
come from placing the agent on every floor cell (:func:`cell_states`, so that features a
policy's own path keeps collinear come apart) or from the states a policy visits
(:func:`policy_states`, with keys in hand and chests open).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from misalign.agents import ActorCritic
from misalign.grid import distances, moves
from misalign.gridworld import GridWorld, level_bank
from misalign.levels import LevelBank
from misalign.registry import Entity
from misalign.scenarios import Scenario, as_scenario
from misalign.validation import check_choice, check_int_range, check_probability

TARGETS = (Entity.COIN, Entity.EXIT, Entity.KEY, Entity.CHEST)
ALL_CHESTS = "chests"  # cell_states(without=...): remove every chest from view
WITHOUT = (Entity.COIN, ALL_CHESTS)

# ----------------------------------------------------------------------------- states


@dataclass
class States:
    """Observations of many states, their outcome features, and which moves approach each target.

    ``table`` has one row per state (``level``, ``cell``, the features); ``toward[t]`` is an
    ``(n, 4)`` boolean array, True where the action moves one step along a shortest path
    to the nearest target ``t`` (coin, exit, key or closed chest).
    """

    obs: np.ndarray
    table: pd.DataFrame
    toward: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.obs)

    def subset(self, mask: np.ndarray) -> States:
        """The states where ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool)
        return States(
            self.obs[mask], self.table[mask].reset_index(drop=True), {k: v[mask] for k, v in self.toward.items()}
        )


class _Distances:
    """Shortest distances from every cell to a level's cells, computed once per (level, cell)."""

    def __init__(self, bank: LevelBank) -> None:
        self.bank, self._maps = bank, {}

    def __call__(self, level: int, cell: int) -> np.ndarray:
        key = (level, cell)
        if key not in self._maps:
            walls = self.bank.walls[level].reshape(self.bank.size, self.bank.size)
            self._maps[key] = distances(walls, cell)
        return self._maps[key]


def _snapshot_features(world: GridWorld, i: int, dist: _Distances, gamma: float) -> tuple[dict, dict]:
    """Features of episode ``i``'s current state and, per target, the moves that approach it."""
    b, lv, pos = world.bank, int(world.level[i]), int(world.pos[i])
    nbr = moves(b.walls[lv], pos)
    feats: dict[str, float] = {}
    toward: dict[str, np.ndarray] = {}

    def nearest(cells: Sequence[int]) -> tuple[float, np.ndarray]:
        cells = [int(c) for c in cells if c >= 0]
        if not cells:
            return np.inf, np.zeros(4, dtype=bool)
        maps = np.stack([dist(lv, c) for c in cells])
        d_here = maps[:, pos].min()
        d_next = maps[:, nbr].min(axis=0)
        return float(d_here), (d_next < d_here)

    def proximity(d: float) -> float:
        return 0.0 if not np.isfinite(d) else float(gamma**d)

    ents = world.scenario.entities
    if Entity.COIN in ents:
        d, toward[Entity.COIN] = nearest([b[Entity.COIN][lv]] if not world.coin_taken[i] else [])
        feats["near_coin"] = proximity(d)
    if Entity.EXIT in ents:
        d, toward[Entity.EXIT] = nearest([b[Entity.EXIT][lv]])
        feats["near_exit"] = proximity(d)
    if Entity.KEY in ents:
        keys = [k for j, k in enumerate(b[Entity.KEY][lv]) if k >= 0 and not world.key_taken[i, j]]
        chests = [c for j, c in enumerate(b[Entity.CHEST][lv]) if c >= 0 and not world.chest_open[i, j]]
        held = int(world.held[i])
        d_key, toward[Entity.KEY] = nearest(keys)
        d_chest, toward[Entity.CHEST] = nearest(chests)
        feats["keys_held"] = float(held)
        feats["near_key"] = proximity(d_key)
        feats["near_chest"] = proximity(d_chest)
        # the soonest a chest can be opened: straight to a chest when holding a key, else via the best key
        if held > 0:
            d_next = d_chest
        elif keys and chests:
            via = [dist(lv, k)[pos] + min(dist(lv, c)[k] for c in chests) for k in keys]
            d_next = float(min(via))
        else:
            d_next = np.inf
        feats["next_chest"] = proximity(d_next)
        feats["chests_left"] = float(min(held + len(keys), len(chests)))  # chests that can still be opened
    return feats, toward


def _collect(
    world: GridWorld, rows: np.ndarray, dist: _Distances, gamma: float, split: str, obs: np.ndarray, out: dict
) -> None:
    for j, i in enumerate(rows):
        feats, toward = _snapshot_features(world, int(i), dist, gamma)
        out["obs"].append(obs[j])
        out["rows"].append(
            {"split": split, "level": int(world.level[i]), "cell": int(world.pos[i]), "t": int(world.t[i]), **feats}
        )
        for k, v in toward.items():
            out["toward"].setdefault(k, []).append(v)


def _finish(out: dict) -> States:
    return States(
        np.asarray(out["obs"], dtype=np.float32),
        pd.DataFrame(out["rows"]),
        {k: np.asarray(v, dtype=bool) for k, v in out["toward"].items()},
    )


def cell_states(
    scenario: Scenario | str,
    split: str = "test",
    n_levels: int = 64,
    *,
    gamma: float = 0.95,
    level_seed: int = 0,
    without: str | None = None,
    keys_held: int = 0,
) -> States:
    """The agent placed on every floor cell of the first ``n_levels`` levels, the level as at its start.

    Covers every position, not only those a policy visits, so features that a policy's path
    keeps collinear come apart. ``without="coin"`` removes the coin from the observation
    (the counterfactual of Turner et al.'s cheese vector: same states, no coin),
    ``without="chests"`` every chest (to devalue keys), and
    ``keys_held`` sets how many keys the agent holds (for the key-holding direction).
    Rows are in the same order for every ``without``/``keys_held``, so they pair.
    """
    sc = as_scenario(scenario)
    check_int_range("n_levels", n_levels, 1, 100_000)
    check_probability("gamma", gamma)
    if without is not None:
        check_choice("without", without, WITHOUT)
    check_int_range("keys_held", keys_held, 0, 8)
    bank = level_bank(sc, split, None, level_seed, at_least=n_levels)
    world = GridWorld(sc, split, 1, bank=bank, autoreset=False)
    dist = _Distances(bank)
    out: dict = {"obs": [], "rows": [], "toward": {}}
    for lv in range(n_levels):
        world.reset(levels=np.array([lv]))
        present = bank.entity_cells(lv)
        occupied = {c for e in (Entity.EXIT, Entity.COIN, Entity.KEY, Entity.CHEST) for c in present.get(e, [])}
        for cell in np.flatnonzero(~bank.walls[lv]):
            if cell in occupied:
                continue  # standing on an entity is not a state the agent can be in before the episode ends
            world.pos[0] = cell
            world.held[0] = keys_held
            world.coin_taken[0] = without == Entity.COIN
            world.chest_open[0] = without == ALL_CHESTS
            obs = world.observe()
            world.coin_taken[0] = False  # the features describe the real level: the coin is still there
            world.chest_open[0] = False
            _collect(world, np.array([0]), dist, gamma, split, obs, out)
    return _finish(out)


def policy_states(
    policy: ActorCritic | None,
    scenario: Scenario | str,
    split: str = "test",
    n_episodes: int = 128,
    *,
    seed: int = 0,
    epsilon: float = 0.0,
    gamma: float = 0.95,
    level_seed: int = 0,
) -> States:
    """Every state visited while ``policy`` plays one episode on each of the first ``n_episodes`` levels.

    ``epsilon`` replaces that share of actions by uniformly random ones, to widen the
    states beyond the policy's favourite paths; ``policy=None`` plays uniformly at random.
    These are the states with keys in hand and chests open, which placing the agent
    cannot produce.
    """
    sc = as_scenario(scenario)
    check_int_range("n_episodes", n_episodes, 1, 100_000)
    check_probability("epsilon", epsilon)
    bank = level_bank(sc, split, None, level_seed, at_least=n_episodes)
    world = GridWorld(sc, split, n_episodes, seed=seed, bank=bank, autoreset=False)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    dist = _Distances(bank)
    out: dict = {"obs": [], "rows": [], "toward": {}}
    obs = world.reset(levels=np.arange(n_episodes) % len(bank))
    episode, rewards = [], []
    while not world.done.all():
        live = np.flatnonzero(~world.done)
        _collect(world, live, dist, gamma, split, obs[live], out)
        episode.append(live)
        if policy is None:
            a = rng.integers(4, size=n_episodes)
        else:
            a = policy.act(obs, gen)
            flip = rng.random(n_episodes) < epsilon
            a = np.where(flip, rng.integers(4, size=n_episodes), a)
        res = world.step(a)
        rewards.append(res.reward[live])
        obs = res.obs
    states = _finish(out)
    # the discounted return that followed each state: what a value estimate should predict
    ep = np.concatenate(episode)
    rew = np.concatenate(rewards).astype(float)
    ret = np.zeros(len(ep))
    running = np.zeros(n_episodes)
    for i in range(len(ep) - 1, -1, -1):
        running[ep[i]] = rew[i] + gamma * running[ep[i]]
        ret[i] = running[ep[i]]
    states.table["return_to_go"] = ret
    return states
