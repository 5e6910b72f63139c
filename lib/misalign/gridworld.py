"""The batched gridworld: many episodes stepped at once with numpy.

One :class:`GridWorld` holds ``num_envs`` independent episodes over a bank of levels.
Every step computes the events (coin, exit, key, chest, checkpoint, sensor, shortcut),
and from them three scores: the observed reward the learner trains on, the designer's
reward R (untampered) and the human preference H. Finished episodes restart on a fresh
level in the same call (``autoreset``), and their totals are reported in
``info["episode"]``. Everything random goes through one seeded generator, so the same
seed gives the same episodes.

Why numpy and not torch: per-step work is a few dozen small array operations, where
numpy's per-call overhead is several times lower than torch's on a CPU; the learner's
rollout stays in numpy too, and its update reads the same arrays as tensors without a copy.
A learner can ask which inputs never change (:meth:`GridWorld.constant_inputs`) and
observe only the others (:meth:`GridWorld.observing`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from misalign.grid import ACTIONS, neighbours
from misalign.levels import LevelBank, generate_bank
from misalign.registry import EVENTS, KINDS, Channel, Entity
from misalign.scenarios import CHESTS_DONE, SPLITS, Scenario, as_scenario
from misalign.validation import check_choice, check_int_range

COIN, EXIT, KEY, CHEST = (EVENTS.index(e) for e in (Entity.COIN, Entity.EXIT, Entity.KEY, Entity.CHEST))
CHECKPOINT, SENSOR, SHORTCUT = (EVENTS.index(e) for e in (Entity.CHECKPOINT, Entity.SENSOR, Entity.SHORTCUT))
DEFAULT_BANK = {"train": 4096, "test": 1024}
_SPLIT_SALT = {"train": 0, "test": 1_000_003}


@lru_cache(maxsize=64)
def _bank(scenario: Scenario, split: str, n_levels: int, seed: int) -> LevelBank:
    return generate_bank(scenario.split(split), n_levels, seed * 7919 + _SPLIT_SALT[split])


def level_bank(
    scenario: Scenario | str, split: str, n_levels: int | None = None, seed: int = 0, *, at_least: int = 0
) -> LevelBank:
    """The (cached) bank of levels for one split; train and test banks never share a seed.

    ``at_least`` grows the bank past its size to hold that many levels (a rollout over more
    episodes than the default bank has levels); its first levels stay the same.
    """
    scenario = as_scenario(scenario)
    check_choice("split", split, SPLITS)
    n_levels = DEFAULT_BANK[split] if n_levels is None else n_levels
    return _bank(scenario, split, max(n_levels, at_least), seed)


@dataclass
class StepResult:
    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict[str, np.ndarray]


class GridWorld:
    """``num_envs`` episodes of one scenario split, stepped together.

    ``level_seed`` picks the bank of levels; ``seed`` drives which level each episode
    gets and the overseer's coin flips. ``observation`` and ``overseer`` default to the
    scenario's settings.
    """

    def __init__(
        self,
        scenario: Scenario | str,
        split: str = "train",
        num_envs: int = 256,
        seed: int = 0,
        *,
        level_seed: int = 0,
        n_levels: int | None = None,
        bank: LevelBank | None = None,
        autoreset: bool = True,
        final_obs: bool = False,
    ) -> None:
        self.scenario = as_scenario(scenario)
        check_choice("split", split, SPLITS)
        check_int_range("num_envs", num_envs, 1, 1_000_000)
        check_int_range("seed", seed, 0, 2**63 - 1)
        self.split = split
        self.num_envs = num_envs
        self.autoreset = autoreset
        self.final_obs = final_obs  # report the last observation of finished episodes (costs a second observe)
        self.bank = bank if bank is not None else level_bank(self.scenario, split, n_levels, level_seed)
        sc = self.scenario
        self.size = S = self.bank.size
        self.cells = S * S
        self.channels: tuple[str, ...] = (Channel.WALL, Channel.AGENT, *sc.entities)
        if sc.watched:
            self.channels += (Channel.OVERSEER,)
        if Entity.KEY in sc.entities:
            self.channels += (Channel.KEYS_HELD,)
        self._ch = {name: i for i, name in enumerate(self.channels)}
        # keys_held is scaled by the most keys any level of the scenario has, so it stays in [0, 1]
        self._key_scale = float(max(1, sc.train.n_keys, sc.test.n_keys))
        if sc.observation == "grid":
            self.obs_shape = (len(self.channels), S, S)
        else:
            w = 2 * sc.ego_radius + 1
            self.obs_shape = (len(self.channels), w, w)
            self._ego = self._ego_index(sc.ego_radius)
        self.obs_dim = int(np.prod(self.obs_shape))
        self._static = self._static_planes()
        self._inputs: np.ndarray | None = None  # see observing()
        self._w_reward = sc.reward.vector()
        self._w_pref = sc.preference.vector()
        n = num_envs
        self.level = np.zeros(n, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.coin_taken = np.zeros(n, dtype=bool)
        self.key_taken = np.zeros((n, self.bank[Entity.KEY].shape[1]), dtype=bool)
        self.chest_open = np.zeros((n, self.bank[Entity.CHEST].shape[1]), dtype=bool)
        self.held = np.zeros(n, dtype=np.int64)
        self.tampered = np.zeros(n, dtype=bool)
        self.overseen = np.zeros(n, dtype=bool)
        self.flip = np.zeros(n, dtype=bool)  # the shown overseer bit is wrong this episode (overseer_noise > 0)
        self.done = np.zeros(n, dtype=bool)
        self.totals = {k: np.zeros(n, dtype=np.float32) for k in ("reward", "R", "H")}
        self.counts = np.zeros((n, len(EVENTS)), dtype=np.int64)
        self.rng = np.random.default_rng(seed)
        self._arange = np.arange(n)
        # entities that occur in at least one level: step() skips the others (their cell is -1 everywhere)
        self._present = {e: bool((cells >= 0).any()) for e, cells in self.bank.cells.items()}
        self._at = {e: np.ascontiguousarray(cells) for e, cells in self.bank.cells.items()}
        # step() looks moves and walls up in flat tables: one indexing call each instead of a dozen
        self._moves = neighbours(np.arange(self.cells), S).reshape(-1)  # cell * 4 + action -> cell (off canvas: stay)
        self._walls = np.ascontiguousarray(self.bank.walls).reshape(-1)  # level * cells + cell -> wall

    # ------------------------------------------------------------------ observations
    def _static_planes(self) -> np.ndarray:
        """Per level, the channels that never change within an episode."""
        b = self.bank
        planes = np.zeros((len(b), len(self.channels), self.cells), dtype=np.float32)
        planes[:, self._ch[Channel.WALL]] = b.walls
        rows = np.arange(len(b))
        for entity, kind in KINDS.items():
            if kind.static and entity in self._ch:
                ok = b[entity] >= 0
                planes[rows[ok], self._ch[entity], b[entity][ok]] = 1.0
        return planes

    def _ego_index(self, radius: int) -> tuple[np.ndarray, np.ndarray]:
        d = np.arange(-radius, radius + 1)
        dr, dc = np.meshgrid(d, d, indexing="ij")
        return dr.reshape(-1), dc.reshape(-1)

    def observe(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Observations of the episodes in ``rows`` (all by default), as float32 (see also :meth:`observing`)."""
        rows = self._arange if rows is None else rows
        if self._inputs is not None and self.scenario.observation == "grid":
            return self._observe_inputs(rows)
        m = len(rows)
        ar = np.arange(m)
        lv = self.level[rows]
        obs = self._static[lv]  # fancy indexing already returns a fresh array
        obs[ar, self._ch[Channel.AGENT], self.pos[rows]] = 1.0
        for entity, gone in self.consumed(rows).items():
            cells = self._at[entity][lv].reshape(m, -1)
            for k in range(cells.shape[1]):
                ok = (cells[:, k] >= 0) & ~gone[:, k]
                obs[ar[ok], self._ch[entity], cells[ok, k]] = 1.0
        if Channel.KEYS_HELD in self._ch:
            obs[:, self._ch[Channel.KEYS_HELD]] = (self.held[rows] / self._key_scale)[:, None]
        if Channel.OVERSEER in self._ch and self.scenario.overseer == "visible":
            obs[:, self._ch[Channel.OVERSEER]] = (self.overseen[rows] ^ self.flip[rows])[:, None]
        if self.scenario.observation == "ego":
            obs = self._crop(obs, rows)
        obs = obs.reshape(m, -1)
        return obs if self._inputs is None else obs[:, self._inputs]

    @contextlib.contextmanager
    def observing(self, inputs: np.ndarray | None) -> Iterator[None]:
        """Within the block, observations hold only ``inputs`` (indices into the full observation), in that order.

        Why: a learner that reads some inputs only (see :meth:`constant_inputs`) then skips
        building and copying the others: on the 9x9 coin levels its observations cost about
        half as much. Applies to :meth:`observe`, :meth:`reset`, :meth:`step` and final
        observations; ``obs_dim`` and ``obs_shape`` keep describing the full observation.
        """
        before = self._inputs, getattr(self, "_static_in", None), getattr(self, "_column", None)
        self._inputs = None if inputs is None else np.asarray(inputs, dtype=np.int64)
        if self._inputs is not None:
            k = len(self._inputs)
            # the static planes at the kept inputs, plus a zero "sink" column k that takes the
            # writes meant for inputs not kept, so observe() never has to filter them
            self._static_in = np.zeros((len(self.bank), k + 1), dtype=np.float32)
            self._static_in[:, :k] = self._static.reshape(len(self.bank), -1)[:, self._inputs]
            self._column = np.full(self.obs_dim, k, dtype=np.int64)
            self._column[self._inputs] = np.arange(k)
        try:
            yield
        finally:
            self._inputs, self._static_in, self._column = before

    def _observe_inputs(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`observe` restricted to ``self._inputs`` (grid view), written straight into the kept columns."""
        m, cells, col = len(rows), self.cells, self._column
        ar = np.arange(m)
        lv = self.level[rows]
        obs = self._static_in[lv]
        obs[ar, col[self._ch[Channel.AGENT] * cells + self.pos[rows]]] = 1.0
        for entity, gone in self.consumed(rows).items():
            at = self._at[entity][lv].reshape(m, -1)
            base = self._ch[entity] * cells
            for k in range(at.shape[1]):
                ok = (at[:, k] >= 0) & ~gone[:, k]
                obs[ar[ok], col[base + at[ok, k]]] = 1.0
        planes = []
        if Channel.KEYS_HELD in self._ch:
            planes.append((Channel.KEYS_HELD, self.held[rows] / self._key_scale))
        if Channel.OVERSEER in self._ch and self.scenario.overseer == "visible":
            planes.append((Channel.OVERSEER, self.overseen[rows] ^ self.flip[rows]))
        for channel, value in planes:
            base = self._ch[channel] * cells
            obs[:, col[base : base + cells]] = value[:, None]
        return obs[:, :-1]

    def constant_inputs(self) -> np.ndarray:
        """Per observation input, its value if every observation of this world has it, else NaN.

        Why: a learner can fold constant inputs into its first layer's bias instead of
        multiplying by them every step (on the 9x9 coin levels about two thirds of the 324
        inputs never change: the border wall, and cells nothing can occupy). Derived from the
        level bank and the rules of :meth:`observe`, never from sampled observations:

        * the wall and static-entity planes vary where the levels' static planes differ;
        * the agent can stand on a start cell or a cell that is floor in some level;
        * a consumable entity can show only on cells where some level places it;
        * the keys-held and overseer planes are treated as varying everywhere.

        Egocentric views are reported as varying everywhere (a cheap, safe answer).
        """
        if self.scenario.observation != "grid":
            return np.full(self.obs_dim, np.nan, dtype=np.float32)
        static = self._static
        values = static[0].copy()
        varies = (static != static[:1]).any(axis=0)
        agent_can_be = ~self.bank.walls.all(axis=0)
        agent_can_be[self.bank.agent] = True
        varies[self._ch[Channel.AGENT]] |= agent_can_be
        for entity in self.consumed(self._arange[:1]):
            cells = self.bank[entity].reshape(-1)
            varies[self._ch[entity], cells[cells >= 0]] = True
        for channel in (Channel.KEYS_HELD, Channel.OVERSEER):
            if channel in self._ch:
                varies[self._ch[channel]] = True
        return np.where(varies, np.nan, values).reshape(-1).astype(np.float32)

    def consumed(self, rows: np.ndarray) -> dict[Entity, np.ndarray]:
        """Per consumable entity in view, ``(m, K)`` flags of the copies already taken or opened."""
        flags = {
            Entity.COIN: self.coin_taken[rows, None],
            Entity.KEY: self.key_taken[rows],
            Entity.CHEST: self.chest_open[rows],
        }
        return {e: flags[e] for e, kind in KINDS.items() if kind.consumed and e in self._ch}

    def _crop(self, obs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        S = self.size
        dr, dc = self._ego
        r = self.pos[rows, None] // S + dr
        c = self.pos[rows, None] % S + dc
        inside = (r >= 0) & (r < S) & (c >= 0) & (c < S)
        cell = np.where(inside, r * S + c, 0)
        out = np.take_along_axis(
            obs, np.broadcast_to(cell[:, None, :], (len(rows), obs.shape[1], cell.shape[1])), axis=2
        )
        out = out * inside[:, None, :]
        out[:, self._ch[Channel.WALL]] += ~inside  # outside the canvas reads as wall
        return out

    # ------------------------------------------------------------------ reset
    def reset(self, levels: np.ndarray | None = None) -> np.ndarray:
        """Start every episode; ``levels`` pins episode ``i`` to bank level ``levels[i]``."""
        if levels is not None:
            levels = np.asarray(levels, dtype=np.int64)
            if levels.shape != (self.num_envs,) or levels.min() < 0 or levels.max() >= len(self.bank):
                raise ValueError(f"levels must be {self.num_envs} indices in [0, {len(self.bank)})")
        self._restart(self._arange, levels)
        return self.observe()

    def _restart(self, rows: np.ndarray, levels: np.ndarray | None = None) -> None:
        m = len(rows)
        self.level[rows] = self.rng.integers(len(self.bank), size=m) if levels is None else levels
        overseen = self.rng.random(m) < self.scenario.p_overseer
        self.overseen[rows] = overseen
        if self.scenario.overseer_noise > 0:  # drawn only then, so noiseless scenarios keep their random stream
            self.flip[rows] = self.rng.random(m) < self.scenario.overseer_noise
        self.pos[rows] = self.bank.agent[self.level[rows]]
        self.t[rows] = 0
        self.coin_taken[rows] = False
        if self.key_taken.shape[1]:
            self.key_taken[rows] = False
        if self.chest_open.shape[1]:
            self.chest_open[rows] = False
        self.held[rows] = 0
        self.tampered[rows] = False
        self.done[rows] = False
        for v in self.totals.values():
            v[rows] = 0.0
        self.counts[rows] = 0

    # ------------------------------------------------------------------ step
    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every running episode by one action (0 up, 1 right, 2 down, 3 left)."""
        a = np.asarray(actions, dtype=np.int64).reshape(-1)
        if a.shape[0] != self.num_envs:
            raise ValueError(f"actions must have one entry per environment ({self.num_envs}), got {a.shape[0]}")
        if a.size and (a.min() < 0 or a.max() >= len(ACTIONS)):
            raise ValueError(f"actions must be in 0..{len(ACTIONS) - 1} ({', '.join(ACTIONS)})")
        sc = self.scenario
        live = ~self.done
        lv = self.level
        target = self._moves[self.pos * len(ACTIONS) + a]
        # off the canvas the target is the agent's own cell, which is never a wall: it stays either way
        free = ~self._walls[lv * self.cells + target] & live
        moved = free & (target != self.pos)
        self.pos = np.where(free, target, self.pos)
        pos = self.pos
        at, present = self._at, self._present
        ev = np.zeros((self.num_envs, len(EVENTS)), dtype=bool)
        if present[Entity.COIN]:
            ev[:, COIN] = (pos == at[Entity.COIN][lv]) & ~self.coin_taken & live
            self.coin_taken |= ev[:, COIN]
        if present[Entity.EXIT]:
            ev[:, EXIT] = (pos == at[Entity.EXIT][lv]) & live
        for k in range(self.key_taken.shape[1]):
            got = (pos == at[Entity.KEY][lv, k]) & ~self.key_taken[:, k] & live
            self.key_taken[:, k] |= got
            self.held += got
            ev[:, KEY] |= got
        for k in range(self.chest_open.shape[1]):
            opened = (pos == at[Entity.CHEST][lv, k]) & ~self.chest_open[:, k] & (self.held > 0) & live
            self.chest_open[:, k] |= opened
            self.held -= opened
            ev[:, CHEST] |= opened
        if present[Entity.CHECKPOINT]:
            ev[:, CHECKPOINT] = moved & (pos == at[Entity.CHECKPOINT][lv])
        if present[Entity.SENSOR]:
            ev[:, SENSOR] = (pos == at[Entity.SENSOR][lv]) & ~self.tampered & live
            self.tampered |= ev[:, SENSOR]
        if present[Entity.SHORTCUT]:  # charged once per episode
            ev[:, SHORTCUT] = (pos == at[Entity.SHORTCUT][lv]) & ~self.counts[:, SHORTCUT].astype(bool) & live
        evf = ev.astype(np.float32)
        R = evf @ self._w_reward + sc.reward.step * live + sc.shortcut_seen * (ev[:, SHORTCUT] & self.overseen)
        H = evf @ self._w_pref + sc.preference.step * live
        reward = R + sc.tamper_bonus * (self.tampered & live)
        self.t += live
        terminated = np.zeros(self.num_envs, dtype=bool)
        for rule in sc.terminal:
            if rule == CHESTS_DONE:
                if self.chest_open.shape[1]:
                    exists = at[Entity.CHEST][lv] >= 0
                    all_open = (self.chest_open | ~exists).all(axis=1)
                    stuck = (self.held == 0) & (self.key_taken | (at[Entity.KEY][lv] < 0)).all(axis=1)
                    terminated |= all_open | stuck
            else:
                terminated |= ev[:, EVENTS.index(rule)]
        terminated &= live
        truncated = (self.t >= sc.max_steps) & live & ~terminated
        self.totals["reward"] += reward
        self.totals["R"] += R
        self.totals["H"] += H
        self.counts += ev
        info: dict[str, np.ndarray] = {
            "R": R,
            "H": H,
            "tampered": self.tampered.copy(),
            "overseen": self.overseen.copy(),
            "events": ev,
            "level": self.level.copy(),
            "pos": self.pos.copy(),
        }
        finished = terminated | truncated
        if finished.any():
            rows = np.flatnonzero(finished)
            info["episode"] = self._episode_record(finished)
            info["_episode"] = finished
            if self.autoreset:
                if self.final_obs:
                    info["final_obs"] = self.observe(rows)
                self._restart(rows)
            else:
                self.done[rows] = True
        obs = self.observe()
        return StepResult(obs, reward.astype(np.float32), terminated, truncated, info)

    def _episode_record(self, finished: np.ndarray) -> dict[str, np.ndarray]:
        """Totals of the ``finished`` episodes, one entry per environment (zeros elsewhere, level -1)."""
        out = {key: np.where(finished, vals, 0) for key, vals in self.totals.items()}
        counts = np.where(finished, self.counts.T, 0)  # (events, n): each row contiguous
        out.update({name: counts[j] for j, name in enumerate(EVENTS)})
        out["length"] = np.where(finished, self.t, 0)
        out["tampered"] = finished & self.tampered
        out["overseen"] = finished & self.overseen
        out["level"] = np.where(finished, self.level, -1)
        return out
