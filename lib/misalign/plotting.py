"""Pictures of levels: walls, entities, a trajectory, or the policy's action at every cell.

The chapters show behaviour on the level itself (where did the agent go? which way does
the policy point from each cell?), in the manner of the vector-field figures of Turner et
al. (2023).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D

from misalign.behaviours import EXIT_WITHOUT_COIN, GOT_COIN, NEITHER
from misalign.grid import DC, DR
from misalign.levels import LevelBank
from misalign.registry import AGENT_STYLE, FLOOR_COLOUR, KINDS, WALL_COLOUR

if TYPE_CHECKING:
    import pandas as pd

MARKERS = {**{str(e): (k.marker, k.colour, k.label) for e, k in KINDS.items()}, "agent": AGENT_STYLE}


def _rc(cell: int, size: int) -> tuple[int, int]:
    return divmod(int(cell), size)


def draw_level(
    bank: LevelBank,
    level: int,
    ax: Axes | None = None,
    *,
    trajectory: Sequence[int] | None = None,
    arrows: np.ndarray | None = None,
    title: str | None = None,
    legend: bool = True,
    traj_color: str = "#1e6edc",
) -> Axes:
    """Draw level ``level`` of ``bank``; optionally a trajectory (flat cells) or per-cell action probabilities.

    ``arrows`` is an ``(S*S, 4)`` array of action probabilities; each floor cell gets the
    mean displacement as an arrow (length = how decided the policy is).
    """
    ax = ax if ax is not None else plt.gca()
    S = bank.size
    walls = bank.walls[level].reshape(S, S)
    ax.imshow(walls, cmap=ListedColormap([FLOOR_COLOUR, WALL_COLOUR]), vmin=0, vmax=1)
    entities = {str(e): cells for e, cells in bank.entity_cells(level).items()}
    entities["agent"] = [int(bank.agent[level])]
    handles = []
    for name, cells in entities.items():
        cells = [c for c in cells if c >= 0]
        if not cells:
            continue
        marker, colour, label = MARKERS[name]
        rc = np.array([_rc(c, S) for c in cells])
        ax.scatter(rc[:, 1], rc[:, 0], marker=marker, s=140, c=colour, edgecolors="black", linewidths=0.6, zorder=3)
        handles.append(Line2D([], [], marker=marker, color=colour, markeredgecolor="black", linestyle="", label=label))
    if trajectory is not None and len(trajectory) > 1:
        rc = np.array([_rc(c, S) for c in trajectory if c >= 0], dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(rc))[:, None]
        ax.plot(rc[:, 1] + jitter[:, 0], rc[:, 0] + jitter[:, 0], color=traj_color, lw=2, alpha=0.8, zorder=2)
        handles.append(Line2D([], [], color=traj_color, lw=2, label="trajectory"))
    if arrows is not None:
        floor = np.flatnonzero(~bank.walls[level])
        dx = arrows[floor] @ DC  # picture x follows columns
        dy = arrows[floor] @ DR  # picture y (downwards) follows rows
        rows, cols = np.divmod(floor, S)
        ax.quiver(cols, rows, dx, -dy, angles="xy", scale_units="xy", scale=2.2, width=0.006, color="#1b1b1b", zorder=4)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if legend and handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return ax


def action_field(policy_probs: Callable[[np.ndarray], np.ndarray], world, level: int) -> np.ndarray:
    """Action probabilities at every floor cell of ``level``, the agent placed there with the level as at its start.

    ``policy_probs`` maps observations to ``(n, 4)`` probabilities; ``world`` is a
    one-episode :class:`~misalign.gridworld.GridWorld` over the same bank.
    """
    S = world.size
    probs = np.zeros((S * S, 4))
    world.reset(levels=np.array([level]))
    floor = np.flatnonzero(~world.bank.walls[level])
    obs = []
    for cell in floor:
        world.pos[0] = cell
        obs.append(world.observe()[0])
    probs[floor] = policy_probs(np.stack(obs))
    return probs


OUTCOME_COLOURS = {
    "capability failure": "#9e9e9e",
    "aligned": "#2e8b57",
    "outer misalignment": "#e08a1e",
    "inner misalignment": "#c0392b",
    "tampering failure": "#7b3fa0",
    GOT_COIN: "#2e8b57",
    EXIT_WITHOUT_COIN: "#c0392b",
    NEITHER: "#9e9e9e",
}


def outcome_bars(
    summary: pd.DataFrame,
    x: str,
    ax: Axes | None = None,
    *,
    outcome: str = "outcome",
    order: Sequence[str] | None = None,
    hue_order: Sequence[str] | None = None,
    per_seed: pd.DataFrame | None = None,
    value: str = "share",
) -> Axes:
    """Grouped bars of outcome shares with their 95% intervals (``summary`` has share or mean, low, high).

    ``per_seed`` (one row per group, outcome and seed, column ``value``) adds a dot per seed.
    """
    ax = ax if ax is not None else plt.gca()
    order = list(order) if order is not None else list(dict.fromkeys(summary[x]))
    hue_order = list(hue_order) if hue_order is not None else list(dict.fromkeys(summary[outcome]))
    width = 0.8 / len(hue_order)
    centre = "share" if "share" in summary.columns else "mean"
    for j, name in enumerate(hue_order):
        part = summary[summary[outcome] == name].set_index(x).reindex(order)
        pos = np.arange(len(order)) - 0.4 + width * (j + 0.5)
        err = np.vstack([part[centre] - part["low"], part["high"] - part[centre]])
        ax.bar(
            pos,
            part[centre],
            width,
            color=OUTCOME_COLOURS.get(name),
            label=name,
            yerr=err,
            capsize=2,
            error_kw={"elinewidth": 1},
        )
        if per_seed is not None:
            for k, group in enumerate(order):
                vals = per_seed[(per_seed[x] == group) & (per_seed[outcome] == name)][value]
                ax.scatter(
                    np.full(len(vals), pos[k]) + np.linspace(-width / 4, width / 4, len(vals)),
                    vals,
                    s=6,
                    color="black",
                    alpha=0.5,
                    zorder=3,
                    linewidths=0,
                )
    ax.set_xticks(np.arange(len(order)), order)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share of test episodes")
    ax.legend(title=None, fontsize=8, ncol=1, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return ax
