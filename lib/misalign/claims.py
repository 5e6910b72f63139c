"""Glue computed numbers into a chapter's prose, record them, and assert its claims.

Why this exists: every number in the book's prose must come from a computation, and a
rerun that no longer supports the text must fail loudly. So a chapter

* glues each number it quotes with :func:`glue`, which also writes it to a per-chapter
  *record* (JSON) that the build tool collects into ``_build/record.json``;
* glues a (mean, low, high) interval with :func:`glue_interval` (three names, one call);
* states its headline claims with :func:`claim` and ends with :func:`check_claims`,
  which raises if any claim failed (the build then fails, naming the chapter and cell)
  unless the chapter's profile does not enforce claims (a smoke run: see
  :func:`misalign.chapter.open_chapter`, which calls :func:`set_enforcement`).

The collected record is compared with the committed reference
(``data/reference_record.json``) by :func:`compare_records`: numbers may drift within
their stated absolute tolerance, strings and booleans must match exactly.

Where records go: the directory in ``$MISALIGN_RECORD_DIR`` (the build tool sets it),
else ``_build/records`` under the working directory; the chapter name comes from
``$MISALIGN_CHAPTER``, else from :func:`set_chapter`, else ``"interactive"``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from misalign.stats import seed_count_ci

RECORD_DIR_ENV = "MISALIGN_RECORD_DIR"
CHAPTER_ENV = "MISALIGN_CHAPTER"
DEFAULT_RECORD_DIR = Path("_build") / "records"

_chapter_override: str | None = None
_entries: dict[str, dict[str, Any]] = {}
_claims: list[tuple[bool, str]] = []
_enforce: bool = True
_enforce_reason: str = ""


def set_chapter(name: str) -> None:
    """Name the chapter whose record this kernel writes (when not set by the build)."""
    global _chapter_override
    _chapter_override = name


def chapter_name() -> str:
    """The chapter this kernel records for: build tool's env var, then set_chapter()."""
    return os.environ.get(CHAPTER_ENV) or _chapter_override or "interactive"


def record_dir() -> Path:
    """Where chapter records are written (the build tool points this into _build)."""
    return Path(os.environ.get(RECORD_DIR_ENV) or DEFAULT_RECORD_DIR)


def record_path() -> Path:
    """The JSON record file of the current chapter."""
    return record_dir() / f"{chapter_name()}.json"


def to_scalar(value: Any) -> Any:
    """Convert numpy/torch scalars to plain Python ones.

    Why: myst-nb pastes the *repr* of a glued value, and numpy 2 writes
    ``np.float64(0.5)``, which ``{glue:text}`name:.2f``` cannot format.
    """
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON via a temp file and os.replace, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def glue(
    name: str, value: Any, *, tolerance: float | None = None, fmt: str | None = None, display: bool = False
) -> Any:
    """Glue ``value`` for ``{glue:text}`name``` and record it for drift checks.

    ``tolerance`` is the absolute drift a rebuild may show before the reproducibility
    test fails (numbers only; ``None`` means exact). ``fmt`` (e.g. ``".3f"``) glues the
    formatted text instead of the raw value; the record keeps the raw value. Scalars
    (bool, int, float, str) are recorded; other objects (figures, tables) are only
    glued. Returns the plain-Python value, so a chapter can keep using it.
    """
    from myst_nb import glue as myst_glue  # imported late: myst-nb is heavy

    value = to_scalar(value)
    if tolerance is not None and not _is_number(value):
        raise TypeError(f"glue {name!r}: a tolerance needs a number, got {value!r}")
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"glue {name!r}: tolerance must be >= 0, got {tolerance!r}")
    shown = format(value, fmt) if fmt is not None else value
    myst_glue(name, shown, display=display)
    if isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"glue {name!r}: value is not finite ({value!r})")
        _entries[name] = {"value": value, "tolerance": tolerance}
        write_json_atomic(record_path(), {"chapter": chapter_name(), "values": dict(_entries)})
    return value


INTERVAL_FLOOR = 0.01
"""The smallest tolerance ``tolerance="interval"`` gives: where every seed agreed (a zero-width
interval), a rebuild may still move a share by a point (a few of 256 episodes)."""


def glue_interval(
    name: str,
    interval: Sequence[Any],
    *,
    tolerance: float | str | None = None,
    fmt: str | None = None,
    suffixes: tuple[str, str, str] = ("", "_low", "_high"),
    display: bool = False,
) -> tuple[Any, Any, Any]:
    """Glue a ``(mean, low, high)`` interval as three names: ``name`` + each of ``suffixes``.

    The default names are ``name``, ``name_low`` and ``name_high``; chapters that named
    their intervals otherwise pass e.g. ``suffixes=("", "_lo", "_hi")`` or
    ``("_share", "_low", "_high")``. The three values share ``tolerance`` and ``fmt``
    and are recorded exactly as three :func:`glue` calls would record them. Raises
    unless the three are finite numbers with ``low <= mean <= high``. Returns the
    plain-Python ``(mean, low, high)``.

    ``tolerance="interval"`` derives the drift tolerance from the interval itself: its
    larger half-width, at least :data:`INTERVAL_FLOOR`. A rebuild on another CPU (other
    floating-point results, so other policies) then passes when its estimate stays within
    the seed-to-seed uncertainty the page already reports, and fails when the science moved.
    """
    if isinstance(interval, (str, bytes, Mapping)) or not isinstance(interval, Iterable):
        raise TypeError(f"glue_interval {name!r}: interval must be (mean, low, high), got {interval!r}")
    values = tuple(to_scalar(v) for v in interval)
    if len(values) != 3:
        raise ValueError(f"glue_interval {name!r}: interval must be (mean, low, high), got {len(values)} values")
    if len(suffixes) != 3 or len(set(suffixes)) != 3 or not all(isinstance(x, str) for x in suffixes):
        raise ValueError(f"glue_interval {name!r}: suffixes must be three distinct strings, got {suffixes!r}")
    if not all(_is_number(v) for v in values):
        raise TypeError(f"glue_interval {name!r}: mean, low and high must be numbers, got {values!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"glue_interval {name!r}: mean, low and high must be finite, got {values!r}")
    mean, low, high = values
    if not low <= mean <= high:
        raise ValueError(f"glue_interval {name!r}: expected low <= mean <= high, got {values!r}")
    if isinstance(tolerance, str):
        if tolerance != "interval":
            raise ValueError(
                f"glue_interval {name!r}: tolerance must be a number, None or 'interval' (got {tolerance!r})"
            )
        tolerance = max(high - mean, mean - low, INTERVAL_FLOOR)
    return tuple(  # type: ignore[return-value]
        glue(f"{name}{suffix}", value, tolerance=tolerance, fmt=fmt, display=display)
        for suffix, value in zip(suffixes, values, strict=True)
    )


def glue_count(name: str, k: int, n: int) -> int:
    """Glue a count ``k`` of ``n`` seeds (say, the seeds whose verdict is the expected one).

    Its drift tolerance is derived, not typed: the larger half-width of the Clopper-Pearson
    95% interval of ``k / n``, in seeds. A rebuild on another CPU may move a seed or two
    where that interval says seeds split by chance; the chapter's claims (at least 90% of
    seeds, say) still decide whether the science holds.
    """
    for label, value in (("k", k), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"glue_count {name!r}: {label} must be a whole number, got {value!r}")
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"glue_count {name!r}: need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    share, low, high = seed_count_ci(int(k), int(n))
    return glue(name, int(k), tolerance=n * max(share - low, high - share))


def set_enforcement(enforce: bool, reason: str = "") -> None:
    """Decide whether :func:`check_claims` fails on a false claim (the chapter's profile does).

    ``reason`` (e.g. ``"profile 'smoke'"``) is shown when claims fail but are not enforced.
    :func:`misalign.chapter.open_chapter` calls this; the default is to enforce.
    """
    global _enforce, _enforce_reason
    if not isinstance(enforce, bool):
        raise ValueError(f"enforce must be True or False (got {enforce!r})")
    _enforce, _enforce_reason = enforce, reason


def claims_enforced() -> bool:
    """Whether a false claim fails :func:`check_claims` in this kernel."""
    return _enforce


def claim(condition: bool, message: str) -> bool:
    """State a claim the prose makes; :func:`check_claims` fails if any is false.

    The claim is recorded whatever the profile; whether a false one fails the chapter is
    the profile's decision (:func:`set_enforcement`), so a claim never says ``or not full``.
    """
    ok = bool(condition)
    _claims.append((ok, message))
    return ok


def check_claims() -> None:
    """Raise AssertionError listing every failed claim (then forget them all).

    Why at the end of a chapter: the prose above was written for these numbers; if a
    rerun no longer supports it, the build must stop with a readable reason. Where the
    profile does not enforce claims (:func:`set_enforcement`), failed claims are printed
    instead. Returns None, so that a chapter's last line shows nothing.
    """
    failed = [msg for ok, msg in _claims if not ok]
    total = len(_claims)
    _claims.clear()
    if failed:
        lines = "\n".join(f"  - {msg}" for msg in failed)
        summary = f"{len(failed)} of {total} claims failed in chapter {chapter_name()!r}"
        if _enforce:
            raise AssertionError(f"{summary}:\n{lines}")
        why = f" in {_enforce_reason}" if _enforce_reason else ""
        print(f"{summary} (not enforced{why}):\n{lines}")


def reset() -> None:
    """Forget glued values and pending claims, and enforce claims again (for tests and re-runs)."""
    global _enforce, _enforce_reason
    _entries.clear()
    _claims.clear()
    _enforce, _enforce_reason = True, ""


# --- reproducibility record -------------------------------------------------------


def collect_records(directory: Path) -> dict[str, dict[str, Any]]:
    """Merge the per-chapter record files of ``directory`` into {chapter: values}."""
    chapters: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        chapters[data["chapter"]] = data["values"]
    return chapters


@dataclass(frozen=True)
class Drift:
    """One value of a rebuild that disagrees with the reference."""

    chapter: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.chapter}:{self.name}: {self.reason}"


def _compare_value(ref: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    a, b = ref["value"], new["value"]
    tol = new.get("tolerance", ref.get("tolerance"))
    if _is_number(a) and _is_number(b):
        allowed = tol or 0.0
        diff = abs(float(b) - float(a))
        if diff > allowed:
            return f"{b!r} differs from reference {a!r} by {diff:.3g} > tolerance {allowed:g}"
        return None
    if type(a) is not type(b) or a != b:
        return f"{b!r} != reference {a!r} (exact match required)"
    return None


def compare_records(
    reference: Mapping[str, Mapping[str, Any]], current: Mapping[str, Mapping[str, Any]]
) -> list[Drift]:
    """List every value of ``current`` that drifted from ``reference``.

    Both map chapter -> name -> {"value", "tolerance"}. The tolerance stated by the
    current build (the chapter's code) applies. Values missing from either side count
    as drift too: the reference must be refreshed on purpose (``make refresh-reference``).
    """
    drifts: list[Drift] = []
    for chapter in sorted(set(reference) | set(current)):
        ref_vals = reference.get(chapter, {})
        new_vals = current.get(chapter, {})
        for name in sorted(set(ref_vals) | set(new_vals)):
            if name not in new_vals:
                drifts.append(Drift(chapter, name, "missing from this build"))
            elif name not in ref_vals:
                drifts.append(Drift(chapter, name, "not in the reference record"))
            else:
                reason = _compare_value(ref_vals[name], new_vals[name])
                if reason:
                    drifts.append(Drift(chapter, name, reason))
    return drifts
