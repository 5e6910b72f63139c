"""The chapter kit: a chapter's profiles, its validated parameters, and who enforces its claims.

Why this exists: every chapter takes the same three papermill parameters (``profile``,
``seeds``, ``device``) and runs in one of a few *profiles* (``full``: the published run;
``smoke``: a fast pipeline check). Before this module each chapter looked its profile up
in a dict by hand, so ``profile="fast"`` raised a bare ``KeyError`` and ``seeds=[-1, "2"]``
went through unnoticed; and each claim carried its own ``or not full``. Now a chapter
declares its profiles as :class:`Profile` objects and opens with::

    ch = open_chapter(PROFILES, profile, seeds, device)
    seeds, settings = ch.seeds, ch.settings

which checks all three parameters at once (the error names the parameter and what it
accepts), sets the plotting theme, and tells :mod:`misalign.claims` whether this profile
enforces the chapter's claims.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from misalign import claims
from misalign.budgets import scaled_budget
from misalign.validation import check_choice, check_int_range, is_real

# Where a confirm run's seeds start: far from the published seeds 0.. so no policy is shared.
CONFIRM_FIRST_SEED = 1000
# The theme every chapter's figures use.
THEME = {"style": "whitegrid", "context": "notebook"}
_RESERVED = ("n_seeds", "enforce_claims", "budget_scale", "first_seed")


def check_seeds(name: str, value: Any, high: int = 2**63 - 1) -> list[int]:
    """Return ``value`` as a list of ints; raise ValueError unless it is a non-empty list or
    tuple of distinct integers in [0, high].

    Strict on purpose: a bool, a string (``"3"``) or a float (``3.0``) is refused rather
    than converted, so a mistyped papermill parameter fails here and not deep in a sweep.
    (It lives here, not in :mod:`misalign.validation`, because every cached training's key
    hashes that module's source: a new helper there would invalidate every cache.)
    """
    accepted = f"a list of distinct integers in [0, {high}]"
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be {accepted} (got {value!r})")
    if not value:
        raise ValueError(f"{name} must be {accepted}, not empty (got {value!r})")
    for i, seed in enumerate(value):
        if not isinstance(seed, numbers.Integral) or not is_real(seed) or not 0 <= seed <= high:
            raise ValueError(f"{name}[{i}] must be an integer in [0, {high}] (got {seed!r}); {name} must be {accepted}")
    seeds = [int(s) for s in value]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"{name} must be {accepted}: {', '.join(map(str, repeated))} repeated (got {value!r})")
    return seeds


@dataclass(frozen=True)
class Profile:
    """One way to run a chapter: how many seeds, how large, and whether its claims must hold.

    ``n_seeds``: the seeds ``0 .. n_seeds - 1`` used when the chapter's ``seeds`` is None.
    ``enforce_claims``: whether :func:`misalign.claims.check_claims` fails on a false claim
    (the published profile: yes; a smoke run whose tiny budgets cannot support the prose: no).
    ``budget_scale``: factor on the chapter's training budgets (see :meth:`budget`).
    ``settings``: everything else the chapter reads (episodes, steps, grids, ...), by name;
    exposed read-only as :attr:`Chapter.settings`.
    """

    n_seeds: int
    enforce_claims: bool = True
    budget_scale: float = 1.0
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)
    first_seed: int = 0

    def __post_init__(self) -> None:
        check_int_range("n_seeds", self.n_seeds, 1, 10_000)
        check_int_range("first_seed", self.first_seed, 0, 2**62)
        if not isinstance(self.enforce_claims, bool):
            raise ValueError(f"enforce_claims must be True or False (got {self.enforce_claims!r})")
        scale = self.budget_scale
        if not is_real(scale) or not 0 < scale <= 1e6:
            raise ValueError(f"budget_scale must be a positive number (got {scale!r})")
        if not isinstance(self.settings, Mapping):
            raise ValueError(f"settings must be a mapping of names to values (got {self.settings!r})")
        for key in self.settings:
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"settings keys must be names (got {key!r})")
            if key in _RESERVED:
                raise ValueError(f"settings must not repeat the Profile field {key!r}; set it as Profile({key}=...)")
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def budget(self, total_steps: int) -> int:
        """The training budget this profile gives a run whose published budget is ``total_steps``.

        ``max(8192, int(total_steps * budget_scale))``: the published profile (scale 1)
        keeps every budget; a smoke profile shrinks them but keeps at least one update.
        """
        check_int_range("total_steps", total_steps, 1, 10**12)
        return scaled_budget(int(total_steps), self.budget_scale)

    def default_seeds(self) -> list[int]:
        """The seeds used when a chapter's ``seeds`` parameter is None."""
        return list(range(self.first_seed, self.first_seed + self.n_seeds))


def confirm_profile(published: Profile, first_seed: int = CONFIRM_FIRST_SEED) -> Profile:
    """The ``confirm`` profile of a chapter: its published profile on fresh seeds, claims not enforced.

    Hypotheses declared before any computation are tested again on seeds the published
    run never saw (``first_seed`` onwards); ``make confirm`` runs every chapter that has
    one and reports which verdicts, if any, flipped.
    """
    check_int_range("first_seed", first_seed, 0, 2**62)
    return replace(published, first_seed=first_seed, enforce_claims=False)


@dataclass(frozen=True)
class Chapter:
    """An opened chapter: its profile (and the profile's name), seeds, settings and device."""

    profile_name: str
    profile: Profile
    seeds: list[int]
    device: str

    @property
    def settings(self) -> Mapping[str, Any]:
        """The profile's chapter-specific settings (read-only)."""
        return self.profile.settings

    @property
    def enforce_claims(self) -> bool:
        """Whether a false claim fails this run (the profile decides)."""
        return self.profile.enforce_claims


def available_devices() -> tuple[str, ...]:
    """The ``device`` values a chapter accepts on this machine: ``"cpu"``, and ``"cuda"`` if present."""
    import torch  # imported late: only to ask whether a GPU is present

    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def check_device(device: Any) -> str:
    """Raise ValueError unless ``device`` is ``"cpu"`` or (with a GPU present) ``"cuda"``."""
    if device == "cpu" and isinstance(device, str):
        return device  # the common case: no need to import torch
    check_choice("device", device, available_devices())
    return device


def open_chapter(
    profiles: Mapping[str, Profile], profile: str, seeds: Sequence[int] | None = None, device: str = "cpu"
) -> Chapter:
    """Validate a chapter's parameters at once, then set up the run they describe.

    ``profiles`` maps profile names to :class:`Profile`; ``profile``, ``seeds`` and
    ``device`` are the chapter's parameters as papermill injected them. Every invalid
    parameter is reported in one ValueError that names it and what it accepts: an
    unknown ``profile`` (the accepted names are listed), ``seeds`` that are not None or a
    list of distinct non-negative integers (bools, strings and floats are refused), a
    ``device`` other than ``"cpu"`` (or ``"cuda"`` where a GPU is present).

    Then it starts a fresh record of glued values and claims, tells
    :mod:`misalign.claims` whether this profile enforces claims, and sets the seaborn
    theme of the book's figures. Returns the :class:`Chapter` (``.profile``, ``.seeds``,
    ``.settings``, ``.device``).
    """
    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError("profiles must be a non-empty mapping of names to Profile objects")
    for name, value in profiles.items():
        if not isinstance(name, str) or not isinstance(value, Profile):
            raise ValueError(f"profiles must map names to Profile objects (got {name!r}: {value!r})")
    errors: list[str] = []
    chosen: Profile | None = None
    seed_list: list[int] | None = None
    try:
        check_choice("profile", profile, profiles)
        chosen = profiles[profile]
    except ValueError as err:
        errors.append(str(err))
    try:
        seed_list = None if seeds is None else check_seeds("seeds", seeds)
    except ValueError as err:
        errors.append(str(err))
    try:
        check_device(device)
    except ValueError as err:
        errors.append(str(err))
    if errors:
        raise ValueError(
            errors[0] if len(errors) == 1 else "invalid chapter parameters:\n" + "\n".join(f"  - {e}" for e in errors)
        )
    assert chosen is not None
    chapter = Chapter(profile, chosen, chosen.default_seeds() if seed_list is None else seed_list, device)

    claims.reset()
    claims.set_enforcement(chosen.enforce_claims, reason=f"profile {profile!r}")
    import seaborn as sns  # imported late: the kit itself needs no plotting

    sns.set_theme(**THEME)
    return chapter
