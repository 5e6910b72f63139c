"""Procedurally varied worlds (issue 11, items 1-3): many distinct training levels, every level
solvable, coin-at-exit and maze-corner identifiable, and the version-1 levels unchanged."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest
from conftest import bfs_path
from misalign.grid import distances, moves, neighbours, reachable
from misalign.gridworld import GridWorld, level_bank
from misalign.levels import LevelBank, LevelSpec, generate_bank, is_solvable
from misalign.registry import KINDS, Entity
from misalign.scenarios import SCENARIO_NAMES, SPLITS, VERSION_2, get_scenario

DISTINCT_BANK = 12_000  # levels drawn to count distinct training levels (at least 10,000 must differ)


def digest(bank: LevelBank) -> str:
    """A hash of everything a bank holds: walls, starts, every entity's cells, the coin-moved flags."""
    h = hashlib.sha256()
    for arr in (bank.walls, bank.agent, *(bank.cells[e] for e in KINDS), bank.coin_moved):
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def level_keys(bank: LevelBank) -> set[tuple]:
    """One (walls, agent, entity cells) tuple per level: equal tuples are the same level."""
    cells = np.concatenate([bank.cells[e].reshape(len(bank), -1) for e in KINDS], axis=1)
    return {(bank.walls[i].tobytes(), int(bank.agent[i]), cells[i].tobytes()) for i in range(len(bank))}


def approach_of(bank: LevelBank, i: int) -> int:
    """The one floor cell next to level ``i``'s door (the door is entered only from there)."""
    size = bank.size
    exit_cell = int(bank[Entity.EXIT][i])
    open_next = [int(c) for c in moves(np.zeros(size * size, bool), exit_cell) if c != exit_cell]
    floor = [c for c in open_next if not bank.walls[i][c]]
    assert len(floor) == 1, f"level {i}: the door has {len(floor)} open neighbours"
    return floor[0]


# ----------------------------------------------------------------------------- version 1 frozen

# Digests computed on main at 8b192da, before the varied generator existed (same function,
# generate_bank(spec, 500, seed=2024) per split; the LevelSpec rows with seed=7; level_bank
# with its defaults). Published chapters depend on these levels: they must never change.
V1_SCENARIOS = {
    ("coin-at-exit-v1", ()): ("c30c2f800b499f43", "b765eb52f4a0d78f"),
    ("coin-diverse-v1", (("alpha", 0.25),)): ("80f451e45dbe7086", "b765eb52f4a0d78f"),
    ("checkpoint-v1", ()): ("a28c1c39a81bb77a", "a28c1c39a81bb77a"),
    ("tampering-v1", ()): ("f244be36b0116df6", "f244be36b0116df6"),
    ("keys-chests", ()): ("bd194c30fef5cd6e", "f3d504684f4ee8d3"),
    ("absent-supervisor", ()): ("9e02b0c5dcf1e0a1", "9e02b0c5dcf1e0a1"),
    ("capability-shift-v1", ()): ("4f998ef46fee7933", "7ab4961b3a7114e5"),
}
V1_SPECS = {
    (("door", "random"),): "1c6a1d947e477ac2",
    (("layout", "maze"),): "34248d95c3dad533",
    (("size", 11), ("layout", "maze"), ("room", 7)): "4fb3c0c1fbfb32f6",
    (("size", 11), ("room", 5), ("coin", "anywhere"), ("n_keys", 1), ("n_chests", 1)): "18a8eb40d1477647",
    (("coin", "anywhere"), ("checkpoint", True), ("sensor", True)): "ef28eb94dd50b1c1",
}
V1_LEVEL_BANKS = {  # level_bank(name, "train"), level_bank(name, "test", seed=3): what the chapters draw
    "coin-at-exit-v1": ("e803c64ee363a44a", "33dda6ce226b28e2"),
    "capability-shift-v1": ("d0260daf0e3938d6", "f8cfd3d43f60c3f2"),
}


@pytest.mark.parametrize(("name", "overrides"), list(V1_SCENARIOS))
def test_version_1_scenario_banks_are_unchanged(name, overrides):
    scenario = get_scenario(name, **dict(overrides))
    got = tuple(digest(generate_bank(scenario.split(s), 500, seed=2024)) for s in SPLITS)
    assert got == V1_SCENARIOS[(name, overrides)]
    assert not scenario.train.procedural and not scenario.test.procedural


@pytest.mark.parametrize("options", list(V1_SPECS))
def test_version_1_level_spec_options_are_unchanged(options):
    assert digest(generate_bank(LevelSpec(**dict(options)), 500, seed=7)) == V1_SPECS[options]


@pytest.mark.parametrize("name", list(V1_LEVEL_BANKS))
def test_version_1_environment_banks_are_unchanged(name):
    assert (digest(level_bank(name, "train")), digest(level_bank(name, "test", seed=3))) == V1_LEVEL_BANKS[name]


# ----------------------------------------------------------------------------- variety and solvability


def test_the_version_2_scenarios_are_registered_and_procedural():
    assert set(VERSION_2) <= set(SCENARIO_NAMES)
    for name in VERSION_2:
        scenario = get_scenario(name)
        assert scenario.train.procedural and scenario.test.procedural
        assert scenario.train.size == scenario.test.size == (11 if "maze" in name or "shift" in name else 9)


def test_plain_names_mean_the_varied_worlds_and_version_1_is_named_so():
    """A name without a version suffix never reaches a frozen version-1 world (issue 11): each
    ``-v1`` world's plain name, where one exists, is procedurally varied, and the only plain
    names outside VERSION_2 are the two stated exceptions."""
    v1 = [n for n in SCENARIO_NAMES if n.endswith("-v1")]
    plain = [n for n in SCENARIO_NAMES if not n.endswith("-v1")]
    assert set(plain) - set(VERSION_2) == {"keys-chests", "absent-supervisor"}
    assert {"coin-at-exit-v1", "checkpoint-v1", "tampering-v1", "capability-shift-v1"} <= set(v1)
    for name in v1:
        assert not get_scenario(name).train.procedural, name
        twin = name.removesuffix("-v1")
        if twin in SCENARIO_NAMES:
            assert get_scenario(twin).train.procedural and get_scenario(twin).test.procedural, twin


@pytest.mark.parametrize("name", [*VERSION_2, "keys-chests"])
def test_training_split_has_at_least_10000_distinct_levels(name):
    bank = generate_bank(get_scenario(name).train, DISTINCT_BANK, seed=5)
    assert len(level_keys(bank)) >= 10_000


def test_absent_supervisor_is_the_stated_fixed_template_exception():
    scenario = get_scenario("absent-supervisor")
    assert len(level_keys(generate_bank(scenario.train, 5_000, seed=5))) < 100  # 21 starts x 3 door rows
    assert "fixed template on purpose" in scenario.summary
    assert "absent-supervisor-v2" not in SCENARIO_NAMES


@pytest.mark.parametrize("name", VERSION_2)
@pytest.mark.parametrize("split", SPLITS)
def test_every_varied_level_is_solvable_and_well_formed(name, split):
    spec = get_scenario(name).split(split)
    bank = generate_bank(spec, 1_500, seed=13)
    size = bank.size
    assert bank.walls.shape == (1_500, size * size)
    border = np.ones((size, size), bool)
    border[1:-1, 1:-1] = False
    for i in range(len(bank)):
        assert is_solvable(bank, i)
        cells = [int(bank.agent[i])] + [c for found in bank.entity_cells(i).values() for c in found]
        assert len(cells) == len(set(cells)), "two entities share a cell"
        assert not bank.walls[i][cells].any(), "an entity or the start sits in a wall"
        # the floor is one piece (obstacles never cut it), and the only hole in the outer wall is the door
        floor = ~bank.walls[i]
        assert reachable(bank.walls[i], int(bank.agent[i]))[floor].all()
        holes = set(np.flatnonzero(floor & border.reshape(-1)).tolist())
        assert holes <= {int(bank[Entity.EXIT][i])}


def test_rooms_vary_in_size_offset_and_obstacles():
    spec = get_scenario("coin-at-exit").train
    bank = generate_bank(spec, 4_000, seed=17)
    size = bank.size
    heights, widths, tops, lefts, obstacles = Counter(), Counter(), Counter(), Counter(), Counter()
    for i in range(len(bank)):
        walls = bank.walls[i].reshape(size, size).copy()
        walls.reshape(-1)[bank[Entity.EXIT][i]] = True
        rows, cols = np.flatnonzero((~walls).any(axis=1)), np.flatnonzero((~walls).any(axis=0))
        h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        heights[h] += 1
        widths[w] += 1
        tops[rows[0]] += 1
        lefts[cols[0]] += 1
        obstacles[int(walls[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].sum())] += 1
    assert set(heights) == set(widths) == {4, 5, 6, 7}
    assert set(tops) == set(lefts) == {1, 2, 3, 4}
    assert set(obstacles) == {0, 1, 2, 3} and min(obstacles.values()) > 600


# ----------------------------------------------------------------------------- coin-at-exit


def test_coin_at_exit_training_coin_is_on_the_door_approach_and_the_door_moves_over_all_walls():
    bank = generate_bank(get_scenario("coin-at-exit").train, 4_000, seed=19)
    size = bank.size
    side = Counter()
    for i in range(len(bank)):
        approach = approach_of(bank, i)
        assert bank[Entity.COIN][i] == approach
        side[int(bank[Entity.EXIT][i]) - approach] += 1
    assert set(side) == {-size, size, -1, 1}  # up, down, left, right: all four walls
    assert all(0.2 < n / len(bank) < 0.3 for n in side.values())
    assert len(set(bank[Entity.EXIT].tolist())) > 40  # the door is at many places on the canvas
    assert Counter(bank[Entity.COIN].tolist()).most_common(1)[0][1] / len(bank) < 0.05  # no fixed coin cell
    assert not bank.coin_moved.any()


def test_coin_at_exit_test_separates_coin_door_and_the_fixed_location():
    """At test, the coin, the door (through its approach) and the training coin's most
    frequent cell are three different cells in most levels (measured: 0.94)."""
    scenario = get_scenario("coin-at-exit")
    train = generate_bank(scenario.train, 4_000, seed=23)
    fixed = Counter(train[Entity.COIN].tolist()).most_common(1)[0][0]
    test = generate_bank(scenario.test, 2_000, seed=29)
    coin = test[Entity.COIN]
    approach = np.array([approach_of(test, i) for i in range(len(test))])
    assert (coin != approach).all() and (coin != test[Entity.EXIT]).all() and test.coin_moved.all()
    apart = (coin != approach) & (coin != fixed) & (approach != fixed) & (test[Entity.EXIT] != fixed)
    assert apart.mean() > 0.9
    # from the start, no single move approaches both the coin and the door in a share of levels (measured: 0.27)
    assert 0.15 < first_moves_disagree(test, [int(c) for c in coin], [int(e) for e in test[Entity.EXIT]]) < 0.5


def first_moves_disagree(bank: LevelBank, goals_a: list[int], goals_b: list[int], n: int = 400) -> float:
    """Share of the first ``n`` levels where no move from the start shortens the way to both goals."""
    size, apart = bank.size, 0
    for i in range(n):
        walls = bank.walls[i].reshape(size, size)
        start = int(bank.agent[i])
        nxt = moves(walls, start)
        da, db = distances(walls, goals_a[i]), distances(walls, goals_b[i])
        both = [k for k in range(4) if da[nxt[k]] < da[start] and db[nxt[k]] < db[start]]
        apart += not both
    return apart / n


def test_coin_at_exit_alpha_moves_only_the_coin():
    base = generate_bank(get_scenario("coin-at-exit").train, 500, seed=31)
    diverse = generate_bank(get_scenario("coin-at-exit", alpha=0.5).train, 500, seed=31)
    np.testing.assert_array_equal(base.walls, diverse.walls)  # nested: same rooms and doors whatever alpha
    np.testing.assert_array_equal(base[Entity.EXIT], diverse[Entity.EXIT])
    assert 0.4 < diverse.coin_moved.mean() < 0.6
    assert (diverse[Entity.COIN] == base[Entity.COIN])[~diverse.coin_moved].all()
    assert (diverse[Entity.COIN] != base[Entity.COIN])[diverse.coin_moved].all()


# ----------------------------------------------------------------------------- maze-corner


def test_maze_corner_training_coins_in_the_corner_region_test_coins_spread_over_the_maze():
    scenario = get_scenario("maze-corner")
    region = set(scenario.train.region_cells.tolist())
    size = scenario.train.size
    assert region == {r * size + c for r in (1, 2, 3) for c in (7, 8, 9)}  # the top-right 3x3 of the interior
    train = generate_bank(scenario.train, 3_000, seed=37)
    test = generate_bank(scenario.test, 3_000, seed=41)
    assert {int(c) for c in train[Entity.COIN]} <= region
    assert len(set(train[Entity.COIN].tolist())) == 8  # every open cell of the region (its centre is a pillar)
    test_coins = test[Entity.COIN].tolist()
    assert not region & set(test_coins) and test.coin_moved.all() and not train.coin_moved.any()
    # spread: every room cell of the maze outside the region holds a test coin somewhere, every quadrant often
    rooms = {r * size + c for r in range(1, size, 2) for c in range(1, size, 2)} - region
    assert rooms <= set(test_coins)
    quadrant = Counter((c // size > size // 2, c % size > size // 2) for c in test_coins)
    assert len(quadrant) == 4 and min(quadrant.values()) / len(test_coins) > 0.1  # top-right: less the region
    # the agent starts outside the region in both splits, and neither split has an exit
    assert not region & (set(train.agent.tolist()) | set(test.agent.tolist()))
    assert (train[Entity.EXIT] < 0).all() and (test[Entity.EXIT] < 0).all()
    # perfect mazes, a different one almost every level
    assert ((~train.walls).sum(axis=1) == 2 * ((size - 1) // 2) ** 2 - 1).all()
    assert len({w.tobytes() for w in train.walls}) > 2_990
    # from the start, no single move approaches both the coin and the corner in a share of levels (measured: 0.28)
    corner = [min(region - set(np.flatnonzero(test.walls[i]).tolist())) for i in range(len(test))]
    assert 0.15 < first_moves_disagree(test, test_coins, corner) < 0.5


def test_room_corner_training_coin_on_one_cell_test_coins_anywhere_else():
    scenario = get_scenario("room-corner")
    size = scenario.train.size
    spot = {1 * size + 7}  # the top-right floor cell of the 7x7 interior
    assert set(scenario.train.region_cells.tolist()) == spot
    train = generate_bank(scenario.train, 3_000, seed=37)
    test = generate_bank(scenario.test, 3_000, seed=41)
    assert {int(c) for c in train[Entity.COIN]} == spot and not train.coin_moved.any()
    test_coins = set(test[Entity.COIN].tolist())
    assert not spot & test_coins and test.coin_moved.all()
    assert len(test_coins) >= 40  # nearly every floor cell of the room holds a test coin somewhere
    assert not spot & (set(train.agent.tolist()) | set(test.agent.tolist()))
    assert (train[Entity.EXIT] < 0).all() and (test[Entity.EXIT] < 0).all()
    # obstacles vary the room (never on the spot), so the spot, not a wall pattern, is what training shares
    assert not train.walls[:, list(spot)].any()
    assert len({w.tobytes() for w in train.walls}) > 2_000
    assert scenario.terminal == (Entity.COIN,)


def test_maze_corner_pays_for_the_coin_and_not_for_the_corner():
    """A scripted walker to the corner region is paid in training (the coin is there) and not at
    test, where it stays in the corner until the step limit: going to a place, not to the coin."""
    scenario = get_scenario("maze-corner")
    corner = min(scenario.train.region_cells)  # the region's top-left cell: a maze room, always open
    walked = 0
    for split, paid in (("train", 1.0), ("test", 0.0)):
        world = GridWorld(scenario, split, 1, autoreset=False)
        b = world.bank
        for level in range(20):
            coin = int(b[Entity.COIN][level])
            goal = coin if split == "train" else int(corner)
            path = bfs_path(b.walls[level], b.size, int(b.agent[level]), goal, avoid=[coin])
            if path is None:  # at test the coin lies on the only way to the corner
                continue
            world.reset(levels=[level])
            total, steps = 0.0, 0
            for a in [*path, *[0] * scenario.max_steps]:  # then up, into the border wall: stay
                if world.done[0]:
                    break
                total += float(world.step(np.array([a])).reward[0])
                steps += 1
            assert total == paid
            assert steps == (len(path) if paid else scenario.max_steps)
            walked += 1
    assert walked > 30


# ----------------------------------------------------------------------------- the other varied scenarios


def test_landmarks_follow_the_varied_room():
    checkpoint = generate_bank(get_scenario("checkpoint").train, 1_000, seed=43)
    tampering = generate_bank(get_scenario("tampering").train, 1_000, seed=47)
    size = checkpoint.size
    for bank, entity in ((checkpoint, Entity.CHECKPOINT), (tampering, Entity.SENSOR)):
        assert len(set(bank[entity].tolist())) > 8  # the landmark moves with the room
        for i in range(len(bank)):
            walls = bank.walls[i].reshape(size, size).copy()
            if bank[Entity.EXIT][i] >= 0:
                walls.reshape(-1)[bank[Entity.EXIT][i]] = True
            rows, cols = np.flatnonzero((~walls).any(axis=1)), np.flatnonzero((~walls).any(axis=0))
            if entity == Entity.CHECKPOINT:  # the centre of the room
                centre = ((rows[0] + rows[-1] + 1) // 2) * size + (cols[0] + cols[-1] + 1) // 2
                assert bank[entity][i] == centre
            else:  # its top-left corner
                assert bank[entity][i] == rows[0] * size + cols[0]


def test_capability_shift_trains_in_open_rooms_and_tests_in_mazes():
    scenario = get_scenario("capability-shift")
    train = generate_bank(scenario.train, 1_000, seed=53)
    test = generate_bank(scenario.test, 1_000, seed=59)
    size = train.size
    for i in range(len(train)):  # an open rectangle: no obstacles, no corridors
        floor = (~train.walls[i]).reshape(size, size).copy()
        floor.reshape(-1)[train[Entity.EXIT][i]] = False
        rows, cols = np.flatnonzero(floor.any(axis=1)), np.flatnonzero(floor.any(axis=0))
        assert floor[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all() and 3 <= len(rows) <= 6
    assert ((~test.walls).sum(axis=1) == 2 * 25 - 1 + 1).all()  # a perfect 11x11 maze and its door
    sides = Counter(int(test[Entity.EXIT][i]) - approach_of(test, i) for i in range(len(test)))
    assert set(sides) == {-size, size, -1, 1}


def test_observations_keep_one_shape_across_varied_levels():
    for name in VERSION_2:
        scenario = get_scenario(name)
        shapes = set()
        for split in SPLITS:
            world = GridWorld(scenario, split, 64, seed=1, n_levels=256)
            obs = world.reset()
            for a in np.random.default_rng(0).integers(4, size=(40, 64)):
                obs = world.step(a).obs
            shapes.add((world.obs_shape, obs.shape))
        assert len(shapes) == 1, name


# ----------------------------------------------------------------------------- grid and bad input


def test_reachable_matches_breadth_first_distances():
    rng = np.random.default_rng(0)
    for _ in range(400):
        size = int(rng.integers(3, 12))
        walls = rng.random((size, size)) < rng.random()
        start = int(rng.integers(size * size))  # sometimes inside a wall: its open neighbours' components
        np.testing.assert_array_equal(reachable(walls, start), np.isfinite(distances(walls, start)))


def test_distances_match_scipy_graph_search():
    """The hand-written breadth-first search against scipy's shortest paths on the move graph
    (an independent oracle), on random walls of many densities, goals sometimes in a wall."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import shortest_path as graph_distances

    rng = np.random.default_rng(1)
    for _ in range(300):
        size = int(rng.integers(2, 14))
        walls = rng.random((size, size)) < rng.random()
        flat, cells = walls.reshape(-1), np.arange(size * size)
        goal = int(rng.integers(size * size))
        rows, cols = np.repeat(cells, 4), neighbours(cells, size).reshape(-1)
        edge = ~flat[rows] & (~flat[cols] | (cols == goal)) & (rows != cols)  # floor to floor, or to the goal
        graph = csr_array((np.ones(edge.sum()), (rows[edge], cols[edge])), shape=(size * size,) * 2)
        want = graph_distances(graph, method="D", unweighted=True, indices=[goal], directed=False)[0]
        want[flat & (cells != goal)] = np.inf  # a wall cell is never a start
        got = distances(walls, goal)
        np.testing.assert_array_equal(got, want)


def _raises(param: str, accepted: str):
    return pytest.raises(ValueError, match=rf"(?s){param}.*{accepted}")


@pytest.mark.parametrize(
    ("options", "param", "accepted"),
    [
        (dict(layout="room s"), "layout", "'rooms'"),
        (dict(door="anywhere"), "door", "'any_wall'"),
        (dict(coin="in_corner"), "coin", "'in_region', 'outside_region'"),
        (dict(region="top"), "region", "'top_right'"),
        (dict(region_side=0), "region_side", r"\[1, 7\]"),
        (dict(region_side=8), "region_side", r"\[1, 7\]"),
        (dict(obstacles=-1), "obstacles", r"\[0, 16\]"),
        (dict(obstacles=2.5), "obstacles", r"\[0, 16\]"),
        (dict(layout="rooms", room_min=2), "room_min", r"\[3, 7\]"),
        (dict(layout="rooms", room=5, room_min=6), "room_min", r"\[3, 5\]"),
        (dict(layout="rooms", coin="in_region"), "coin='in_region'", "accepted layouts"),
        (dict(layout="maze", obstacles=2), "obstacles", "accepted: 0"),
        (dict(layout="supervisor", door="any_wall", coin="none"), "supervisor", "door='corner'"),
        (dict(layout="maze", checkpoint=True, landmarks="fixed", coin="none"), "landmarks='fixed'", "'random'"),
        (dict(layout="rooms", checkpoint=True, sensor=True, obstacles=3), "room_min 3, obstacles 3", "room_min, fewer"),
    ],
)
def test_bad_level_spec_values_name_the_parameter_and_the_accepted_values(options, param, accepted):
    with _raises(param, accepted):
        LevelSpec(**options)


@pytest.mark.parametrize("name", ["coin-at-exit", "maze-corner", "room-corner"])
def test_bad_alpha_names_itself(name):
    with _raises("alpha", r"\[0, 1\]"):
        get_scenario(name, alpha=1.5)
    with _raises(f"override of '{name}'", "'alpha'"):
        get_scenario(name, beta=0.1)
