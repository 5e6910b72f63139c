"""Pre-registered verdicts on the page, and whether fresh seeds confirm them.

A chapter declares its hypotheses (:mod:`misalign.hypotheses`), evaluates them, and
glues each verdict as ``verdict_<id>`` (:func:`glue_verdicts`): the build record then
holds the published verdicts. ``make confirm`` (``tools/confirm.py``) runs every chapter
that has a ``confirm`` profile on fresh seeds, compares its verdicts with the published
ones and writes ``data/confirm_record.json``; the published page reads that file
(:func:`confirmation`) and says whether every verdict held or which flipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from misalign.claims import glue

VERDICT_PREFIX = "verdict_"
CONFIRM_RECORD_ENV = "MISALIGN_CONFIRM_RECORD"
CONFIRM_RECORD = Path("data") / "confirm_record.json"


SEEDS = "hypothesis_seeds"  # glued beside the verdicts: which seeds they rest on


def seed_span(seeds: Sequence[int]) -> str:
    """``"0–9"`` for consecutive seeds, else the list."""
    seeds = sorted(int(s) for s in seeds)
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def glue_verdicts(table: pd.DataFrame, seeds: Sequence[int]) -> dict[str, str]:
    """Glue the verdict of every evaluated hypothesis as ``verdict_<id>``, and the seeds they
    rest on; return the verdicts by id."""
    verdicts = dict(zip(table["id"], table["verdict"], strict=True))
    for hid, verdict in verdicts.items():
        glue(f"{VERDICT_PREFIX}{hid}", verdict)
    glue(SEEDS, seed_span(seeds))
    return verdicts


def verdicts_in(record: Mapping[str, Any]) -> dict[str, str]:
    """The glued verdicts of one chapter's build record (``{id: verdict}``)."""
    out = {}
    for name, entry in record.items():
        if name.startswith(VERDICT_PREFIX):
            out[name.removeprefix(VERDICT_PREFIX)] = entry["value"] if isinstance(entry, Mapping) else entry
    return out


def confirm_record_path() -> Path:
    """``$MISALIGN_CONFIRM_RECORD`` (the build tool sets it), else ``data/confirm_record.json``
    in the working directory or the nearest folder above it."""
    if os.environ.get(CONFIRM_RECORD_ENV):
        return Path(os.environ[CONFIRM_RECORD_ENV])
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / CONFIRM_RECORD).is_file():
            return folder / CONFIRM_RECORD
    return Path.cwd() / CONFIRM_RECORD


def confirmation(chapter: str, published: Mapping[str, str]) -> str:
    """One sentence for the page: did the last confirm run on fresh seeds reach ``published``'s verdicts?"""
    path = confirm_record_path()
    entry = json.loads(path.read_text(encoding="utf-8")).get(chapter) if path.is_file() else None
    if entry is None:
        return "not run yet (`make confirm`)"
    span = f"seeds {entry['seeds']}"
    confirmed = entry["verdicts"]
    if set(confirmed) != set(published):
        return f"run on {span} for another set of hypotheses; run `make confirm` again"
    flipped = [hid for hid in published if confirmed[hid] != published[hid]]
    if not flipped:
        return f"every verdict held on {span}"
    return "on " + span + ", " + "; ".join(f"{h} was {confirmed[h]} (here {published[h]})" for h in flipped)
