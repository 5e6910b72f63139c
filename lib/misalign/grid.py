"""Grid geometry: the four moves, neighbours, shortest distances, reachability, paths.

Cells are flat indices ``row * size + col`` on a square canvas; ``walls`` is a boolean
``(size, size)`` or flat ``(size * size,)`` array. A move into a wall or off the canvas
leaves the agent where it was, as in the environment. Every module that reasons about
where a move leads (the environment, the level generator, the competence classifier,
the goal probes, the tests) uses these functions, so the rules live in one place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from scipy import ndimage

ACTIONS = ("up", "right", "down", "left")
DR = np.array([-1, 0, 1, 0])  # row change of each action
DC = np.array([0, 1, 0, -1])  # column change of each action
_CROSS = ndimage.generate_binary_structure(2, 1)  # 4-connectivity: the moves


def _flat(walls: np.ndarray) -> tuple[np.ndarray, int]:
    walls = np.asarray(walls, dtype=bool)
    size = walls.shape[0] if walls.ndim == 2 else int(round(np.sqrt(walls.size)))
    return walls.reshape(-1), size


def neighbours(cells: np.ndarray | int, size: int) -> np.ndarray:
    """``(..., 4)`` cells each action leads to, ignoring walls (off the canvas: stay)."""
    cells = np.asarray(cells, dtype=np.int64)
    r = cells[..., None] // size + DR
    c = cells[..., None] % size + DC
    inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
    return np.where(inside, r * size + c, cells[..., None])


def moves(walls: np.ndarray, cells: np.ndarray | int) -> np.ndarray:
    """``(..., 4)`` cells each action leads to from ``cells`` (a wall or the border: stay)."""
    flat, size = _flat(walls)
    cells = np.asarray(cells, dtype=np.int64)
    nxt = neighbours(cells, size)
    return np.where(flat[nxt], cells[..., None], nxt)


@lru_cache(maxsize=16)
def _neighbour_table(size: int) -> tuple[tuple[int, ...], ...]:
    """Per cell of a ``size`` canvas, the cells the four actions lead to (walls ignored), as
    plain Python ints: the searches below visit one cell at a time, where numpy's per-call
    overhead would dominate."""
    return tuple(tuple(row) for row in neighbours(np.arange(size * size), size).tolist())


def distances(walls: np.ndarray, goal: int) -> np.ndarray:
    """Shortest number of moves from every cell to ``goal`` (inf where unreachable).

    A breadth-first search, one frontier at a time, over plain lists: the classifier calls
    it thousands of times per sweep cell, on canvases of about a hundred cells."""
    flat, size = _flat(walls)
    table, blocked = _neighbour_table(size), flat.tolist()
    dist = [-1] * len(blocked)
    dist[int(goal)] = 0
    frontier, d = [int(goal)], 0
    while frontier:
        d += 1
        reached = []
        for cell in frontier:
            for nxt in table[cell]:
                if dist[nxt] < 0 and not blocked[nxt]:
                    dist[nxt] = d
                    reached.append(nxt)
        frontier = reached
    out = np.array(dist, dtype=float)
    out[out < 0] = np.inf
    return out


def reachable(walls: np.ndarray, start: int) -> np.ndarray:
    """Boolean mask of the cells reachable from ``start`` (the same cells as where
    :func:`distances` is finite, found by labelling the floor's 4-connected components in C:
    the level generator checks connectivity with it once per obstacle it places)."""
    flat, size = _flat(walls)
    labels = ndimage.label(~flat.reshape(size, size), _CROSS)[0].reshape(-1)
    start = int(start)
    if labels[start]:
        return labels == labels[start]
    seeds = labels[neighbours(start, size)]  # a start inside a wall reaches its open neighbours' components
    mask = np.isin(labels, seeds[seeds > 0])
    mask[start] = True
    return mask


def shortest_path(walls: np.ndarray, start: int, goal: int, avoid: Iterable[int] = ()) -> list[int] | None:
    """Shortest action sequence from ``start`` to ``goal`` that never enters a cell of
    ``avoid`` (the goal itself is allowed); ``None`` if there is none."""
    flat, size = _flat(walls)
    table, walled = _neighbour_table(size), flat.tolist()
    blocked = {int(c) for c in avoid if c >= 0} - {int(goal)}
    prev: dict[int, tuple[int, int]] = {int(start): (-1, -1)}
    queue = deque([int(start)])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            actions = []
            while prev[cell][0] != -1:
                cell, a = prev[cell]
                actions.append(a)
            return actions[::-1]
        for a, nxt in enumerate(table[cell]):
            if nxt == cell or walled[nxt] or nxt in prev or nxt in blocked:
                continue
            prev[nxt] = (cell, a)
            queue.append(nxt)
    return None


def follow(start: int, actions: Sequence[int], size: int) -> int:
    """The cell reached from ``start`` by ``actions`` (assuming no wall is hit)."""
    cell = int(start)
    for a in actions:
        cell += int(DR[a]) * size + int(DC[a])
    return cell
