"""Level generation: every level solvable, layouts as specified, deterministic banks."""

from __future__ import annotations

import numpy as np
import pytest
from misalign.grid import reachable
from misalign.gridworld import level_bank
from misalign.levels import LevelSpec, generate_bank, is_solvable
from misalign.scenarios import SCENARIO_NAMES, SPLITS, get_scenario

N = 300


@pytest.mark.parametrize("name", SCENARIO_NAMES)
@pytest.mark.parametrize("split", SPLITS)
def test_every_scenario_level_is_solvable(name, split):
    spec = get_scenario(name).split(split)
    bank = generate_bank(spec, N, seed=11)
    assert len(bank) == N
    assert all(is_solvable(bank, i) for i in range(N))
    S = bank.size
    for i in range(N):
        cells = [
            bank.agent[i],
            bank["coin"][i],
            bank["exit"][i],
            bank["checkpoint"][i],
            bank["sensor"][i],
            bank["shortcut"][i],
            *bank["key"][i],
            *bank["chest"][i],
        ]
        cells = [int(c) for c in cells if c >= 0]
        assert len(cells) == len(set(cells)), "two entities share a cell"
        assert not bank.walls[i][cells].any(), "an entity sits in a wall"
        border = np.ones((S, S), bool)
        border[1:-1, 1:-1] = False
        opened = np.flatnonzero(~bank.walls[i] & border.reshape(-1))
        assert set(opened) <= ({int(bank["exit"][i])} if bank["exit"][i] >= 0 else set()), "a hole in the outer wall"


@pytest.mark.parametrize("size", [7, 9, 11, 13, 15])
def test_mazes_of_odd_sizes_are_solvable_perfect_mazes(size):
    bank = generate_bank(LevelSpec(size=size, layout="maze"), 100, seed=size)
    assert bank.walls.shape == (100, size * size)
    assert all(is_solvable(bank, i) for i in range(100))
    cells = np.arange(size * size)
    r, c = cells // size, cells % size
    odd = (r % 2 == 1) & (c % 2 == 1)
    even = (r % 2 == 0) & (c % 2 == 0)
    for i in range(100):
        walls = bank.walls[i].copy()
        if bank["exit"][i] >= 0:
            walls[bank["exit"][i]] = True  # the door is not part of the maze
        assert not walls[odd].any(), "every odd cell of a maze is open"
        assert walls[even].all(), "every even-even cell is a pillar"
        open_cells = int((~walls).sum())
        n_rooms = ((size - 1) // 2) ** 2
        assert open_cells == 2 * n_rooms - 1, "a perfect maze: a spanning tree of the rooms"
        assert reachable(walls.reshape(size, size), int(bank.agent[i]))[~walls].all()
    assert len({bank.walls[i].tobytes() for i in range(100)}) > (8 if size == 7 else 60), (
        "mazes differ"
    )  # 7x7 DFS mazes: only a dozen exist


@pytest.mark.parametrize("size", [5, 7, 9, 12, 15])
def test_rooms(size):
    bank = generate_bank(LevelSpec(size=size), 50, seed=0)
    interior = np.ones((size, size), bool)
    interior[1:-1, 1:-1] = False
    for i in range(50):
        walls = bank.walls[i].reshape(size, size)
        np.testing.assert_array_equal(walls[1:-1, 1:-1], False)
        # the door: one opening in the right wall, in the corner row by default, coin right in front of it
        assert np.flatnonzero(~walls[:, -1]).tolist() == [size - 2]
        assert bank["exit"][i] == (size - 2) * size + size - 1
        assert bank["coin"][i] == bank["exit"][i] - 1


def test_even_maze_sizes_rejected_odd_ones_generated():
    for size in range(7, 16):
        if size % 2:
            assert len(generate_bank(LevelSpec(size=size, layout="maze"), 3, 0)) == 3
        else:
            with pytest.raises(ValueError):
                LevelSpec(size=size, layout="maze")


def test_banks_are_deterministic_and_seed_dependent():
    spec = get_scenario("keys-chests").train
    a, b, c = generate_bank(spec, 50, 3), generate_bank(spec, 50, 3), generate_bank(spec, 50, 4)
    np.testing.assert_array_equal(a.walls, b.walls)
    np.testing.assert_array_equal(a.agent, b.agent)
    for entity in ("key", "chest"):
        np.testing.assert_array_equal(a[entity], b[entity])
    assert not np.array_equal(a.agent, c.agent)


def test_train_and_test_banks_differ():
    tr, te = level_bank("coin-at-exit-v1", "train"), level_bank("coin-at-exit-v1", "test")
    assert len(tr) == 4096 and len(te) == 1024
    assert not np.array_equal(tr.agent[:100], te.agent[:100])


def test_coin_diverse_share_and_nesting():
    """A share alpha of training coins moves off the exit; layouts are shared across alpha (nested sweeps)."""
    base = generate_bank(LevelSpec(coin_elsewhere=0.0), 4000, 0)
    div = generate_bank(LevelSpec(coin_elsewhere=0.25), 4000, 0)
    assert not base.coin_moved.any()
    assert np.all(base["coin"] == base["exit"] - 1)
    assert abs(div.coin_moved.mean() - 0.25) < 0.03
    assert np.all(div["coin"][div.coin_moved] != div["exit"][div.coin_moved] - 1)
    assert np.all(div["coin"][~div.coin_moved] == div["exit"][~div.coin_moved] - 1)
    np.testing.assert_array_equal(base.walls, div.walls)
    np.testing.assert_array_equal(base["exit"], div["exit"])
