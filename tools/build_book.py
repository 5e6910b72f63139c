#!/usr/bin/env python
"""Execute the book's chapters in parallel, then build the site from the executed copies.

Why a tool of our own instead of Jupyter Book's execution:

* chapters run in parallel, one process each (Jupyter Book executes one at a time);
* each chapter has a wall-clock limit, and a failing cell is reported as
  ``book/NN_name.py: cell K of N raised ValueError: ...`` with a non-zero exit;
* notebooks are executed as copies under ``_build/executed``, never in place, so no
  execution metadata or injected parameters can leak into the committed pair;
* the published profile (``full``) gets no injected-parameters cell;
* per-chapter wall times, the reproducibility record, and a generated appendix.

Usage (from the repository root; ``make book`` calls this)::

    python tools/build_book.py [--profile full|smoke] [--strict] [--jobs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil  # imported here, not in the signal handlers that kill chapter trees
import yaml
from misalign.cache import POLICY_LOG_ENV

PROFILES = ("full", "smoke", "confirm")  # confirm: the published run on fresh seeds (tools/confirm.py)
CONFIRM_PROFILE = re.compile(r"confirm_profile\(")  # how a chapter declares that it has one
DEFAULT_PROFILE = "full"  # the published one: never injected, so no "Parameters" cell
DEFAULT_TIMEOUT_S = 3600  # chapter 1 trains 150 policies cold: about 30 min on 2 busy cores
APPENDIX_MARKER = "<!-- BUILD: reproducibility tables -->"
# Extra packages worth listing in the appendix besides the project's runtime deps.
EXTRA_VERSION_PACKAGES = ("sphinx", "sphinx-book-theme", "nbclient", "ipython")


# --- what the table of contents asks for -----------------------------------------


def toc_files(toc: dict[str, Any]) -> Iterator[str]:
    """Yield every ``file`` entry of a Jupyter Book 1 ``_toc.yml``, in order."""
    if "root" in toc:
        yield toc["root"]
    if "file" in toc:
        yield toc["file"]
    for key in ("parts", "chapters", "sections", "subtrees", "entries"):
        for child in toc.get(key, []) or []:
            yield from toc_files(child)


@dataclass(frozen=True)
class Chapter:
    """A notebook page of the book: its source (``.py`` preferred) and where it runs."""

    entry: str  # the toc entry, e.g. "book/00_template"
    source: Path  # the file executed (the jupytext .py, else the .ipynb)

    @property
    def name(self) -> str:
        return Path(self.entry).name


def find_chapters(root: Path, toc: dict[str, Any]) -> list[Chapter]:
    """The toc entries that are notebooks (``.py`` paired with ``.ipynb``, or ``.ipynb``)."""
    chapters = []
    for entry in toc_files(toc):
        stem = re.sub(r"\.(md|ipynb|py)$", "", entry)
        for suffix in (".py", ".ipynb"):
            if (root / f"{stem}{suffix}").is_file():
                chapters.append(Chapter(stem, root / f"{stem}{suffix}"))
                break
    return chapters


def copy_static_tree(root: Path, dest: Path, toc: dict[str, Any], chapters: list[Chapter]) -> None:
    """Copy config, toc and every non-notebook file of the page folders into ``dest``.

    The notebooks arrive there executed; everything else (md, bib, images) is copied so
    that Jupyter Book can build from ``dest`` alone.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, dest / name)
    notebook_files = {c.source.resolve() for c in chapters}
    notebook_files |= {c.source.with_suffix(".ipynb").resolve() for c in chapters}
    for rel_dir in sorted({Path(e).parent for e in toc_files(toc)}):
        # Pages at the repository root: copy root files only, never walk the whole repo.
        paths = (root / rel_dir).glob("*") if rel_dir == Path(".") else (root / rel_dir).rglob("*")
        for path in sorted(paths):
            rel = path.relative_to(root)
            if not path.is_file() or path.resolve() in notebook_files:
                continue
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def _read_toc(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))


# --- executing one chapter (runs in a child process) ------------------------------


def execute_one(src: Path, dst: Path, profile: str, result_path: Path) -> int:
    """Execute ``src`` into ``dst`` with papermill; write a JSON result; return 0/1."""
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    nb = jupytext.read(src)
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    # Only a non-default profile is injected: published pages show no Parameters cell.
    parameters = {} if profile == DEFAULT_PROFILE else {"profile": profile}
    result: dict[str, Any] = {"ok": True}
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(dst), str(dst), parameters=parameters, cwd=str(dst.parent), progress_bar=False, log_output=False
        )
    except PapermillExecutionError as err:
        # Map papermill's index (counted with any injected cell) to the source's cells.
        index = err.cell_index
        if parameters:
            tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
            injected_at = tagged[0] + 1 if tagged else 0
            index -= 1 if index >= injected_at else 0
        result = {
            "ok": False,
            "cell": index + 1,
            "cells": len(nb.cells),
            "ename": err.ename,
            "evalue": err.evalue,
            "source": err.source,
        }
    except Exception as err:  # kernel died, bad notebook, ...
        result = {"ok": False, "ename": type(err).__name__, "evalue": str(err)}
    result["execute_s"] = round(time.perf_counter() - start, 3)
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return 0 if result["ok"] else 1


def chapter_env(record_dir: Path, chapter: Chapter, policy_log: Path | None = None) -> dict[str, str]:
    """Environment of a chapter's kernel: one thread each, no GUI, where to record.

    ``policy_log``, if given, is where training appends one line per policy it trained or
    loaded from the cache (:func:`misalign.cache.note_policy`).

    The profile is not passed here: a chapter reads it only from its ``profile``
    parameter (papermill injects any profile but the default, ``full``).
    """
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        MISALIGN_RECORD_DIR=str(record_dir.resolve()),
        MISALIGN_CHAPTER=chapter.name,
        MISALIGN_CONFIRM_RECORD=str((chapter.source.parent.parent / "data" / "confirm_record.json").resolve()),
    )
    if policy_log is not None:
        env[POLICY_LOG_ENV] = str(policy_log.resolve())
    return env


def count_policies(policy_log: Path) -> dict[str, float]:
    """How many policies a chapter trained (training runs), the seconds those runs took (each in
    its own process, so with parallel workers this exceeds the chapter's wall time), and how
    many distinct cached ones it loaded."""
    lines = policy_log.read_text(encoding="utf-8").splitlines() if policy_log.is_file() else []
    events = [line.split(" ") for line in lines if " " in line]
    trained = [e for e in events if e[0] == "trained"]
    return {
        "trained": len(trained),
        "training_s": round(sum(float(e[2]) for e in trained if len(e) > 2), 3),
        "loaded": len({e[1] for e in events if e[0] == "loaded"}),
    }


# Chapter processes now running, each with every descendant seen so far: an interrupted or
# timed-out build ends all of them (kernels, joblib workers), so nothing keeps training after
# the build. The descendants are remembered because a chapter process that dies first (killed
# by ``pkill -f build_book``, say, or the OOM killer) leaves its kernel, which runs in a session
# of its own, with no parent to be found through.
_RUNNING: dict[subprocess.Popen, dict[int, psutil.Process]] = {}
_RUNNING_LOCK = threading.RLock()  # re-entrant: a signal may arrive while the main thread holds it
WATCH_S = 0.5  # how often a chapter's descendants are looked up while it runs


def descendants(pid: int) -> list[psutil.Process]:
    """Every process below ``pid`` (none if it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_all(procs: list[psutil.Process]) -> None:
    """Stop every process of ``procs`` and whatever they started meanwhile, then kill them all.

    Suspending first keeps a parent from starting a replacement for a child killed before it
    (loky respawns dead workers); ``is_running`` guards against a reused pid.
    """
    stopped: dict[int, psutil.Process] = {}
    pending = list(procs)
    while pending:
        proc = pending.pop()
        if proc.pid in stopped:
            continue
        try:
            if proc.is_running():
                proc.suspend()
                stopped[proc.pid] = proc
                pending.extend(proc.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    for proc in stopped.values():
        try:
            proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def kill_tree(pid: int | None, known: list[psutil.Process] = (), group: int | None = None) -> None:
    """Kill process ``pid`` (if given: a process not yet reaped) with every descendant, the
    ``known`` processes (descendants seen earlier, which may have lost their parent since),
    and process group ``group`` (default ``pid``)."""
    try:
        root = [psutil.Process(pid)] if pid is not None else []
    except psutil.NoSuchProcess:
        root = []
    kill_all([*root, *known])
    group = pid if group is None else group
    if group is not None:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all_chapters() -> None:
    """End every running chapter process tree (on a signal, or when the build itself fails)."""
    with _RUNNING_LOCK:
        running = [(proc, list(seen.values())) for proc, seen in _RUNNING.items()]
    for proc, seen in running:
        kill_tree(proc.pid, seen)


def _on_signal(signum: int, frame: Any) -> None:
    stop_all_chapters()
    raise SystemExit(128 + signum)


def _on_signal_in_chapter(signum: int, frame: Any) -> None:
    """A chapter process told to stop ends its kernel and the kernel's workers first."""
    kill_all(descendants(os.getpid()))
    os._exit(128 + signum)


def run_chapter(chapter: Chapter, root: Path, build: Path, profile: str, timeout: float) -> dict[str, Any]:
    """Execute one chapter in a child process with a hard wall-clock limit."""
    dst = build / "executed" / f"{chapter.entry}.ipynb"
    logs = build / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result_path = logs / f"{chapter.name}.result.json"
    result_path.unlink(missing_ok=True)
    policy_log = logs / f"{chapter.name}.policies.log"
    policy_log.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--execute-one",
        str(chapter.source.resolve()),
        str(dst.resolve()),
        profile,
        str(result_path.resolve()),
    ]
    start = time.perf_counter()
    with open(logs / f"{chapter.name}.log", "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=chapter_env(build / "records", chapter, policy_log),
            start_new_session=True,  # so a timeout can kill it and its children
        )
        seen: dict[int, psutil.Process] = {}
        with _RUNNING_LOCK:
            _RUNNING[proc] = seen
        deadline = start + timeout
        try:
            while proc.poll() is None and time.perf_counter() < deadline:
                found = descendants(proc.pid)
                with _RUNNING_LOCK:
                    for child in found:
                        seen.setdefault(child.pid, child)
                try:
                    proc.wait(timeout=max(0.0, min(WATCH_S, deadline - time.perf_counter())))
                except subprocess.TimeoutExpired:
                    pass
        finally:
            timed_out = proc.poll() is None
            # normally nothing is left; after a time-out, a crash or a killed chapter process, this ends the rest
            kill_tree(proc.pid if timed_out else None, list(seen.values()), group=proc.pid)
            proc.wait()
            with _RUNNING_LOCK:
                _RUNNING.pop(proc, None)
    wall = round(time.perf_counter() - start, 3)
    rel = chapter.source.relative_to(root).as_posix()
    if result_path.is_file():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    elif timed_out:
        result = {"ok": False, "ename": "Timeout", "evalue": f"exceeded {timeout:g} s"}
    else:
        result = {
            "ok": False,
            "ename": "ExecutionFailed",
            "evalue": f"exit {proc.returncode}; see {logs / (chapter.name + '.log')}",
        }
    result.update(file=rel, wall_s=wall, policies=count_policies(policy_log))
    return result


def describe_failure(result: dict[str, Any]) -> str:
    """One readable line (plus the failing cell's source) for a failed chapter."""
    where = f"cell {result['cell']} of {result['cells']} " if "cell" in result else ""
    text = f"{result['file']}: {where}raised {result['ename']}: {result['evalue']}"
    source = (result.get("source") or "").strip()
    if source:
        text += "\n" + "\n".join(f"    | {line}" for line in source.splitlines()[:15])
    return text


# --- the build record and the generated appendix ----------------------------------


def package_versions(root: Path) -> dict[str, str]:
    """Installed versions of the project's runtime dependencies (from pyproject)."""
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    names = [re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] for d in project["project"]["dependencies"]]
    versions = {}
    for name in [project["project"]["name"], *names, *EXTRA_VERSION_PACKAGES]:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_info(root: Path) -> dict[str, Any]:
    """The facts a reader needs to compare their timings with ours."""
    processor = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        processor = match.group(1) if match else processor
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "platform": platform.platform(),
        "processor": processor or "unknown",
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "python": platform.python_version(),
        "commit": commit,
        "built_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
    }


def render_appendix(timings: dict[str, Any], versions: dict[str, str], machine: dict[str, Any]) -> str:
    """Markdown tables for the reproducibility appendix (replaces its marker line)."""
    lines = [
        f"This build ran the **{timings['profile']}** profile, chapters in parallel over "
        f"{timings['jobs']} worker process(es); executing all chapters took "
        f"{timings['execute_wall_s']:.1f} s of wall time.",
        "",
        "## Chapter execution times",
        "",
        "Policies trained counts every fresh training run, and training time the seconds those",
        "runs took, added over the chapter's worker processes (so it can exceed the wall time;",
        "the rest of a chapter's time is testing, classifying and analysis). Policies loaded",
        "counts the distinct policies reused from the trained-policy cache (trained earlier, or",
        "by another chapter with the same settings). A sweep cell found in the cache loads",
        "nothing and counts in neither, so a warm rebuild shows few of either.",
        "",
        "| chapter | wall time (s) | policies trained | training time (s) | policies loaded from the cache |",
        "|---|---:|---:|---:|---:|",
    ]
    none = {"trained": 0, "training_s": 0.0, "loaded": 0}
    for f, s in timings["chapters"].items():
        n = none | timings.get("policies", {}).get(f, {})
        lines.append(f"| `{f}` | {s:.1f} | {n['trained']} | {n['training_s']:.1f} | {n['loaded']} |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in machine.items()]
    lines += ["", "## Package versions", "", "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in versions.items()]
    return "\n".join(lines) + "\n"


# --- the whole build --------------------------------------------------------------


def build(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    out = (root / args.build_dir).resolve()
    executed = out / "executed"
    for stale in ("executed", "records", "logs", "site", "html"):
        shutil.rmtree(out / stale, ignore_errors=True)
    for stale in ("record.json", "timings.json"):
        (out / stale).unlink(missing_ok=True)

    toc = _read_toc(root)
    chapters = find_chapters(root, toc)
    if args.profile == "confirm":  # only the chapters that declare a confirm profile
        chapters = [c for c in chapters if CONFIRM_PROFILE.search(c.source.read_text(encoding="utf-8"))]
    copy_static_tree(root, executed, toc, chapters)
    jobs = max(1, min(args.jobs or len(os.sched_getaffinity(0)), len(chapters) or 1))
    print(f"Executing {len(chapters)} chapter(s), profile {args.profile!r}, {jobs} in parallel")

    start = time.perf_counter()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda c: run_chapter(c, root, out, args.profile, args.timeout), chapters))
    finally:
        stop_all_chapters()
    execute_wall = time.perf_counter() - start
    for r in results:
        print(f"  {'ok  ' if r['ok'] else 'FAIL'} {r['wall_s']:8.1f} s  {r['file']}")

    timings = {
        "profile": args.profile,
        "jobs": jobs,
        "execute_wall_s": round(execute_wall, 3),
        "chapters": {r["file"]: r["wall_s"] for r in results},
        "policies": {r["file"]: r["policies"] for r in results},
    }
    from misalign.claims import collect_records, write_json_atomic

    write_json_atomic(out / "timings.json", timings)
    write_json_atomic(out / "record.json", {"profile": args.profile, "chapters": collect_records(out / "records")})

    failed = [r for r in results if not r["ok"]]
    if failed:
        print(f"\n{len(failed)} chapter(s) failed:", file=sys.stderr)
        for r in failed:
            print(describe_failure(r), file=sys.stderr)
        print(f"(executed copies and logs are under {out})", file=sys.stderr)
        return 1

    for entry in toc_files(toc):
        page = executed / (re.sub(r"\.md$", "", entry) + ".md")
        if page.is_file() and APPENDIX_MARKER in page.read_text(encoding="utf-8"):
            tables = render_appendix(timings, package_versions(root), machine_info(root))
            page.write_text(page.read_text(encoding="utf-8").replace(APPENDIX_MARKER, tables))

    if args.no_html:
        return 0
    return build_html(executed, out, strict=args.strict)


def build_html(source: Path, out: Path, *, strict: bool) -> int:
    """``jupyter-book build`` on the executed tree; the site lands in ``out/html``."""
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    cmd = [jb, "build", str(source), "--path-output", str(out / "site"), "--all"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    print("Building HTML:", " ".join(cmd[1:]))
    start = time.perf_counter()
    log_path = out / "logs" / "jupyter-book.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        proc.wait()
    timings = json.loads((out / "timings.json").read_text(encoding="utf-8"))
    timings["html_wall_s"] = round(time.perf_counter() - start, 3)
    from misalign.claims import write_json_atomic

    write_json_atomic(out / "timings.json", timings)
    if proc.returncode != 0:
        print(f"jupyter-book build failed (exit {proc.returncode}); log: {log_path}", file=sys.stderr)
        return proc.returncode
    shutil.move(str(out / "site" / "_build" / "html"), str(out / "html"))
    print(f"Site: {out / 'html' / 'index.html'}")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=".", help="book root (holds _config.yml, _toc.yml)")
    p.add_argument("--build-dir", default="_build", help="output folder, relative to root")
    p.add_argument("--profile", choices=PROFILES, default=DEFAULT_PROFILE)
    p.add_argument("--jobs", type=int, default=0, help="parallel chapters (default: cores)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per chapter")
    p.add_argument("--strict", action="store_true", help="jupyter-book -W -n --keep-going")
    p.add_argument("--no-html", action="store_true", help="execute only, skip the site")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--execute-one"]:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, _on_signal_in_chapter)
        src, dst, profile, result = argv[1:5]
        return execute_one(Path(src), Path(dst), profile, Path(result))
    return build(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
