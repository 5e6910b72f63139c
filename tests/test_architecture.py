"""The library's shape: one registry of names, a linter that passes, parameters checked at once."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from conftest import BOOK, ROOT
from misalign.grid import distances, moves, neighbours, reachable, shortest_path
from misalign.gridworld import GridWorld
from misalign.levels import LevelSpec, generate_bank
from misalign.ppo import PPOConfig, train_cached
from misalign.registry import EVENTS, KINDS, Channel, Entity
from misalign.scenarios import SCENARIO_NAMES, STEP, Weights, get_scenario

LIB = ROOT / "lib" / "misalign"
NAMES = {str(e) for e in Entity}


def _allowed(node: ast.Constant, parents: dict[ast.AST, ast.AST]) -> bool:
    """Where a string equal to an entity name is not an entity name: a scenario's name (the
    'checkpoint' scenario), a parameter name given to a check_* validator, an attribute name."""
    parent = parents.get(node)
    if isinstance(parent, ast.Call):
        func = parent.func.id if isinstance(parent.func, ast.Name) else getattr(parent.func, "attr", "")
        if func.startswith("check_") and parent.args and parent.args[0] is node:
            return True
        if func in ("getattr", "hasattr") and len(parent.args) > 1 and parent.args[1] is node:
            return True
    return node.value in SCENARIO_NAMES


def _entity_literals(path: Path) -> list[str]:
    """``line: 'name'`` for every entity name spelled out as a string in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return [
        f"{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in NAMES and not _allowed(node, parents)
    ]


def test_entity_and_event_names_are_spelled_only_in_the_registry() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{hit}"
        for path in sorted(LIB.rglob("*.py"))
        if path.name != "registry.py"
        for hit in _entity_literals(path)
    ]
    assert not found, "use misalign.registry.Entity instead of these literals:\n" + "\n".join(found)


def test_the_literal_check_catches_a_literal(tmp_path: Path) -> None:
    offender = tmp_path / "offender.py"
    offender.write_text('cells = bank["coin"]\ncheck_choice("coin", x, ())\nname = "coin-at-exit-v1"\n')
    assert _entity_literals(offender) == ["1: 'coin'"]


@pytest.mark.skipif(shutil.which("ruff", path=str(Path(sys.executable).parent)) is None, reason="ruff not installed")
def test_ruff_passes() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    paths = ["lib", "tests", "benchmarks", "tools", *sorted(str(p.relative_to(ROOT)) for p in BOOK.glob("*.py"))]
    check = subprocess.run([ruff, "check", *paths], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", "--check", *paths[:4]], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


# ----------------------------------------------------------------------------- registry-driven structures


def test_weights_events_and_channels_follow_the_registry() -> None:
    assert [f.name for f in fields(Weights)] == [*map(str, EVENTS), STEP]
    w = Weights(exit=1.0, shortcut=-1.0)
    assert w.vector().tolist() == [1.0 if e == Entity.EXIT else -1.0 if e == Entity.SHORTCUT else 0.0 for e in EVENTS]
    world = GridWorld(get_scenario("keys-chests"), "train", 4)
    assert world.channels == (Channel.WALL, Channel.AGENT, Entity.KEY, Entity.CHEST, Channel.KEYS_HELD)
    bank = generate_bank(LevelSpec(), 8, 0)
    assert set(bank.cells) == set(KINDS)
    assert all(bank[e].ndim == (2 if KINDS[e].many else 1) for e in KINDS)


def test_scenario_key_is_plain_data_and_distinguishes_overrides() -> None:
    import json

    a, b = get_scenario("coin-diverse-v1", alpha=0.1), get_scenario("coin-diverse-v1", alpha=0.2)
    json.dumps(a.key())  # plain data
    assert a.key() != b.key() and a.key() == get_scenario("coin-diverse-v1", alpha=0.1).key()
    assert get_scenario("checkpoint-v1").judge.r_good == 1.0


# ----------------------------------------------------------------------------- bad input fails at once


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: get_scenario("coin-diverse-v1", alpha="0.1"), "alpha"),
        (lambda: get_scenario("coin-diverse-v1", alpha=True), "alpha"),
        (lambda: get_scenario("coin-at-exit-v1", alpha=0.1), "'coin-at-exit-v1'"),
        (lambda: get_scenario("coin-at-exit-v1", tamper_bonus="0.2"), "tamper_bonus"),
        (lambda: get_scenario("coin at exit"), "coin-at-exit-v1"),
        (lambda: Weights(coin="1"), "coin"),
        (lambda: train_cached("coin-at-exit-v1", 0, PPOConfig(total_steps=8192)), "Scenario"),
    ],
)
def test_bad_parameters_name_themselves(call, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        call()


# ----------------------------------------------------------------------------- grid geometry


def test_grid_moves_stay_at_walls_and_distances_agree_with_paths() -> None:
    bank = generate_bank(LevelSpec(layout="maze"), 5, 3)
    walls = bank.walls[0].reshape(9, 9)
    start = int(bank.agent[0])
    assert (moves(walls, start) == start).sum() >= 1  # a maze cell has a wall on some side
    assert np.all(neighbours(0, 9) == [0, 1, 9, 0])  # off the canvas: stay
    dist = distances(walls, start)
    for goal in np.flatnonzero(reachable(walls, start)):
        path = shortest_path(walls, start, int(goal))
        assert path is not None and len(path) == dist[goal]
    assert not reachable(walls, start)[walls.reshape(-1)].any()
