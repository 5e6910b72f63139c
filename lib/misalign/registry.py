"""The one list of what can be in a level: entity kinds, their events and how they look.

Why one place: the level generator, the environment's observation channels and event
columns, the reward weights, the candidate goals of the competence classifier and the
plots all enumerate the same kinds. Each kind is declared here once; every other module
iterates over :data:`KINDS` or names a kind as ``Entity.COIN``. Adding a kind (say, lava
that ends the episode) means a line here plus the code that gives it behaviour (where
the generator places it, what stepping on it does in ``gridworld.step``).

Each entity kind has exactly one event, named after it: the agent collected the coin,
reached the exit, picked up a key, opened a chest, entered the checkpoint, stepped on
the reward sensor, crossed the shortcut tile. Event columns follow :data:`EVENTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    """Entity kinds; the string value is the name used in tables, weights and events."""

    COIN = "coin"
    EXIT = "exit"
    KEY = "key"
    CHEST = "chest"
    CHECKPOINT = "checkpoint"
    SENSOR = "sensor"
    SHORTCUT = "shortcut"


class Channel(StrEnum):
    """Observation channels that are not entities."""

    WALL = "wall"
    AGENT = "agent"
    OVERSEER = "overseer"
    KEYS_HELD = "keys_held"


@dataclass(frozen=True)
class EntityKind:
    """How one entity kind behaves in the data structures and looks in pictures.

    ``many``: a level may hold several (keys, chests), stored as an ``(L, K)`` array,
    else one per level as ``(L,)``. ``static``: its observation plane never changes
    within an episode (doors and tiles), so it is precomputed per level. ``goal``: a
    candidate goal of the competence classifier (a thing a policy may be heading for).
    ``consumed``: it disappears from view once its event fired for it.
    """

    entity: Entity
    label: str
    colour: str
    marker: str
    many: bool = False
    static: bool = False
    goal: bool = False
    consumed: bool = False


KINDS: dict[Entity, EntityKind] = {
    k.entity: k
    for k in (
        EntityKind(Entity.COIN, "coin", "#f5be14", "o", goal=True, consumed=True),
        EntityKind(Entity.EXIT, "exit", "#28aa50", "s", static=True, goal=True),
        EntityKind(Entity.KEY, "key", "#c8781e", "P", many=True, goal=True, consumed=True),
        EntityKind(Entity.CHEST, "chest", "#82461e", "X", many=True, goal=True, consumed=True),
        EntityKind(Entity.CHECKPOINT, "checkpoint", "#aa5ac8", "D", static=True, goal=True),
        EntityKind(Entity.SENSOR, "reward sensor", "#dc3232", "^", static=True, goal=True),
        EntityKind(Entity.SHORTCUT, "shortcut", "#fa8282", "v", static=True),
    )
}

EVENTS: tuple[Entity, ...] = tuple(KINDS)
"""Event columns, in order: ``events[:, EVENTS.index(Entity.EXIT)]`` is the exit event."""

GOALS: tuple[Entity, ...] = tuple(e for e, k in KINDS.items() if k.goal)
"""Entities the competence classifier considers as a policy's possible goal."""

AGENT_STYLE = ("*", "#1e6edc", "start")  # marker, colour, legend label of the agent
WALL_COLOUR = "#3c3c46"
FLOOR_COLOUR = "#f3f1ea"


def rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` as an (r, g, b) tuple of ints."""
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
