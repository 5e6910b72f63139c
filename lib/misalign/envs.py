"""The standard face: gymnasium ``Env`` and ``VectorEnv`` classes, registered ids, an SB3 adapter.

Every scenario split is registered as ``misalign/<Scenario>-<Split>-v0``, e.g.
``misalign/CoinAtExit-Train-v0``, so ``gymnasium.make`` works after ``import misalign``.
The single :class:`GridEnv` is the batched core with one episode, so the two always
agree step for step. ``info`` carries R, H, the tamper and oversight flags and the
step's events, and when an episode ends its totals under ``"totals"`` (the key
``"episode"`` belongs to gymnasium's RecordEpisodeStatistics and SB3's Monitor);
``render()`` draws the level as an RGB array.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from misalign.grid import ACTIONS
from misalign.gridworld import GridWorld
from misalign.registry import AGENT_STYLE, EVENTS, FLOOR_COLOUR, KINDS, WALL_COLOUR, rgb
from misalign.scenarios import SCENARIO_NAMES, SPLITS, Scenario, get_scenario


def env_id(scenario: str, split: str) -> str:
    """The registered gymnasium id of a scenario split."""
    camel = "".join(part.capitalize() for part in scenario.split("-"))
    return f"misalign/{camel}-{split.capitalize()}-v0"


def _resolve(scenario: Scenario | str, overrides: dict[str, Any]) -> Scenario:
    """A Scenario object; a name is built with ``overrides`` (gymnasium.make passes keywords)."""
    if isinstance(scenario, Scenario):
        if overrides:
            raise ValueError(
                f"overrides {sorted(overrides)} apply to scenario names only; accepted: "
                "a Scenario object alone, or a name with overrides"
            )
        return scenario
    return get_scenario(scenario, **overrides)


def _info(res_info: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    ev = res_info["events"][i]
    info = {
        "R": float(res_info["R"][i]),
        "H": float(res_info["H"][i]),
        "tampered": bool(res_info["tampered"][i]),
        "overseen": bool(res_info["overseen"][i]),
        "events": {e: bool(ev[j]) for j, e in enumerate(EVENTS)},
    }
    if "episode" in res_info and res_info["_episode"][i]:
        # not "episode": gymnasium's RecordEpisodeStatistics and SB3's Monitor own that key
        info["totals"] = {k: v[i].item() for k, v in res_info["episode"].items()}
    return info


def render_level(world: GridWorld, i: int = 0, cell_px: int = 12) -> np.ndarray:
    """An RGB picture of episode ``i`` of a world: walls, entities still present, the agent."""
    S, b = world.size, world.bank
    lv = world.level[i]
    img = np.empty((S * S, 3), dtype=np.uint8)
    img[:] = rgb(FLOOR_COLOUR)
    img[b.walls[lv]] = rgb(WALL_COLOUR)
    gone = world.consumed(np.array([i]))
    for entity, kind in KINDS.items():
        cells = np.atleast_1d(b[entity][lv])
        taken = gone[entity][0] if entity in gone else np.zeros(len(cells), dtype=bool)
        for cell, out in zip(cells, taken, strict=True):
            if cell >= 0 and not out:
                img[cell] = rgb(kind.colour)
    img[world.pos[i]] = rgb(AGENT_STYLE[1])
    img = img.reshape(S, S, 3)
    return np.kron(img, np.ones((cell_px, cell_px, 1), dtype=np.uint8))


class GridEnv(gym.Env):
    """One episode at a time of a scenario split, as a gymnasium environment."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: Scenario | str = "coin-at-exit",
        split: str = "train",
        *,
        level_seed: int = 0,
        n_levels: int | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = _resolve(scenario, overrides)
        self.world = GridWorld(scenario, split, 1, seed=0, level_seed=level_seed, n_levels=n_levels, autoreset=False)
        self.scenario, self.split, self.render_mode = scenario, split, render_mode
        self.observation_space = spaces.Box(0.0, 1.0, (self.world.obs_dim,), np.float32)
        self.action_space = spaces.Discrete(len(ACTIONS))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.world.rng = np.random.default_rng(seed)
        level = None if not options or "level" not in options else np.array([options["level"]])
        obs = self.world.reset(level)
        return obs[0], {"level": int(self.world.level[0]), "overseen": bool(self.world.overseen[0])}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        res = self.world.step(np.array([int(action)]))
        return res.obs[0], float(res.reward[0]), bool(res.terminated[0]), bool(res.truncated[0]), _info(res.info, 0)

    def render(self) -> np.ndarray | None:
        return render_level(self.world, 0) if self.render_mode == "rgb_array" else None


class GridVectorEnv(gym.vector.VectorEnv):
    """The batched core as a gymnasium ``VectorEnv`` (autoreset in the same step)."""

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self,
        scenario: Scenario | str = "coin-at-exit",
        split: str = "train",
        num_envs: int = 64,
        *,
        level_seed: int = 0,
        n_levels: int | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = _resolve(scenario, overrides)
        self.world = GridWorld(
            scenario, split, num_envs, seed=0, level_seed=level_seed, n_levels=n_levels, final_obs=True
        )
        self.num_envs, self.render_mode = num_envs, render_mode
        self.single_observation_space = spaces.Box(0.0, 1.0, (self.world.obs_dim,), np.float32)
        self.single_action_space = spaces.Discrete(len(ACTIONS))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self.world.rng = np.random.default_rng(seed)
        return self.world.reset(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        res = self.world.step(actions)
        info = {k: v for k, v in res.info.items() if k not in ("episode", "_episode")}
        if "episode" in res.info:
            info["totals"], info["_totals"] = res.info["episode"], res.info["_episode"]
            info["final_obs"], info["_final_obs"] = (
                _scatter(res.info["final_obs"], res.info["_episode"]),
                res.info["_episode"],
            )
        return res.obs, res.reward.astype(np.float64), res.terminated, res.truncated, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode != "rgb_array":
            return None
        return tuple(render_level(self.world, i) for i in range(self.num_envs))


def _scatter(rows_obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros((mask.shape[0], rows_obs.shape[1]), dtype=rows_obs.dtype)
    out[mask] = rows_obs
    return out


def sb3_vec_env(
    scenario: Scenario | str = "coin-at-exit",
    split: str = "train",
    num_envs: int = 256,
    *,
    seed: int = 0,
    level_seed: int = 0,
    n_levels: int | None = None,
    **overrides: Any,
):
    """The batched core as a stable-baselines3 ``VecEnv`` (imports SB3 only when called)."""
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    class GridSB3VecEnv(VecEnv):
        """SB3's VecEnv over the batched gridworld: terminal observations in ``info``, as SB3 expects."""

        def __init__(self) -> None:
            sc = _resolve(scenario, overrides)
            self.world = GridWorld(
                sc, split, num_envs, seed=seed, level_seed=level_seed, n_levels=n_levels, final_obs=True
            )
            obs_space = spaces.Box(0.0, 1.0, (self.world.obs_dim,), np.float32)
            super().__init__(num_envs, obs_space, spaces.Discrete(len(ACTIONS)))
            self._actions = np.zeros(num_envs, dtype=np.int64)

        def reset(self) -> np.ndarray:
            return self.world.reset()

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = np.asarray(actions)

        def step_wait(self):
            res = self.world.step(self._actions)
            done = res.terminated | res.truncated
            infos: list[dict[str, Any]] = [{} for _ in range(num_envs)]
            if done.any():
                finals = res.info["final_obs"]
                for j, i in enumerate(np.flatnonzero(done)):
                    ep = res.info["episode"]
                    infos[i] = {
                        "terminal_observation": finals[j],
                        "TimeLimit.truncated": bool(res.truncated[i]),
                        "episode": {
                            "r": float(ep["reward"][i]),
                            "l": int(ep["length"][i]),
                            "R": float(ep["R"][i]),
                            "H": float(ep["H"][i]),
                        },
                    }
            return res.obs, res.reward, done, infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name: str, indices=None) -> list[Any]:
            return [getattr(self, attr_name)] * len(self._indices(indices))

        def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
            setattr(self, attr_name, value)

        def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
            return [getattr(self, method_name)(*args, **kwargs) for _ in self._indices(indices)]

        def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
            return [False] * len(self._indices(indices))

        def _indices(self, indices) -> list[int]:
            if indices is None:
                return list(range(num_envs))
            return [indices] if isinstance(indices, int) else list(indices)

        def seed(self, seed: int | None = None) -> list[int | None]:
            if seed is not None:
                self.world.rng = np.random.default_rng(seed)
            return [seed] * num_envs

    return GridSB3VecEnv()


def register_all() -> list[str]:
    """Register every scenario split with gymnasium (idempotent); returns the ids."""
    ids = []
    for name in SCENARIO_NAMES:
        for split in SPLITS:
            eid = env_id(name, split)
            if eid not in gym.registry:
                gym.register(
                    eid,
                    entry_point="misalign.envs:GridEnv",
                    kwargs={"scenario": name, "split": split},
                    vector_entry_point="misalign.envs:GridVectorEnv",
                )
            ids.append(eid)
    return ids


REGISTERED_IDS = register_all()
