#!/usr/bin/env python
"""``make confirm``: run every chapter that has a ``confirm`` profile on fresh seeds and
compare its pre-registered verdicts with the published ones.

Executes those chapters (no site) into ``_build_confirm``, reads the verdicts they glued,
compares them with ``data/reference_record.json`` (the published build), prints one line
per hypothesis, and writes ``data/confirm_record.json``, which the published pages read to
say whether every verdict held. A flipped verdict is a finding, reported, not an error:
the command fails only when a chapter fails to run.

    python tools/confirm.py [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))

from misalign.claims import write_json_atomic  # noqa: E402
from misalign.confirm import CONFIRM_RECORD, SEEDS, verdicts_in  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=None, help="parallel chapters (default: cores)")
    args = parser.parse_args(argv)
    build = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--profile", "confirm", "--no-html"]
    build += ["--build-dir", "_build_confirm"] + (["--jobs", str(args.jobs)] if args.jobs else [])
    if subprocess.run(build, cwd=ROOT).returncode != 0:
        return 1
    confirmed = json.loads((ROOT / "_build_confirm" / "record.json").read_text(encoding="utf-8"))["chapters"]
    published = json.loads((ROOT / "data" / "reference_record.json").read_text(encoding="utf-8"))["chapters"]
    out = {}
    for chapter, record in sorted(confirmed.items()):
        mine, theirs = verdicts_in(record), verdicts_in(published.get(chapter, {}))
        seeds = record[SEEDS]["value"] if SEEDS in record else "?"
        flipped = sorted(h for h in mine if theirs.get(h) != mine[h])
        out[chapter] = {"seeds": seeds, "verdicts": mine, "published": theirs, "flipped": flipped}
        for hid, verdict in mine.items():
            mark = "FLIPPED" if hid in flipped else "held"
            print(f"{chapter} {hid}: published {theirs.get(hid, '(none)')!r}, seeds {seeds}: {verdict!r} [{mark}]")
    write_json_atomic(ROOT / CONFIRM_RECORD, out)
    print(f"wrote {CONFIRM_RECORD}: {sum(len(v['flipped']) for v in out.values())} flipped verdict(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
