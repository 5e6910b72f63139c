"""The on-disk cache of trained policies and sweep cells: where it lives, keys, atomic writes.

A cached result is stored under a key made of what determines it: the function, its
settings, the seed, and the library version plus the code of the modules the function's
module imports (directly or not). Editing a module a result depends on invalidates it;
editing an unrelated analysis module does not, and neither do comments, docstrings or
layout (the code is read as its syntax tree, so only changes of code retrain). Files are
written to a temporary name and renamed, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib

import misalign

PACKAGE = Path(misalign.__file__).parent


def default_cache_dir() -> Path:
    """``$MISALIGN_CACHE`` if set, else ``~/.cache/misalign``."""
    return Path(os.environ.get("MISALIGN_CACHE", Path.home() / ".cache" / "misalign"))


POLICY_LOG_ENV = "MISALIGN_POLICY_LOG"


def note_policy(event: str, name: str, seconds: float | None = None) -> None:
    """Append ``event name [seconds]`` (``trained`` or ``loaded``) to ``$MISALIGN_POLICY_LOG``, if set.

    Why: the book build counts, per chapter, how many policies it trained, the CPU time that
    training took, and how many it reused from the cache; chapters train in worker processes,
    so the tally is a file that each process appends one short line to (``O_APPEND`` keeps the
    lines whole).
    """
    if event not in ("trained", "loaded"):
        raise ValueError(f"event must be 'trained' or 'loaded', got {event!r}")
    if seconds is not None and not seconds >= 0:
        raise ValueError(f"seconds must be a number >= 0 or None, got {seconds!r}")
    path = os.environ.get(POLICY_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{event} {name}" + ("" if seconds is None else f" {seconds:.3f}") + "\n")


def _imports(path: Path) -> set[str]:
    """The misalign modules a source file imports (``misalign.x.y`` -> ``x/y``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith("misalign."):
                rel = name.removeprefix("misalign.").replace(".", "/")
                if (PACKAGE / f"{rel}.py").is_file() or (PACKAGE / rel / "__init__.py").is_file():
                    found.add(rel)
    return found


def _source(rel: str) -> Path:
    path = PACKAGE / f"{rel}.py"
    return path if path.is_file() else PACKAGE / rel / "__init__.py"


@lru_cache(maxsize=64)
def module_closure(module: str) -> tuple[str, ...]:
    """The package's modules that ``module`` depends on: ``"misalign.ppo"`` itself and what it
    imports, directly or not; for a module outside the package (a test's or a reader's own
    cell function), the package modules it imports and theirs; for a function defined in a
    notebook (no source file), every module of the package."""
    source = getattr(sys.modules.get(module), "__file__", None)
    if module.startswith("misalign."):
        todo = [module.removeprefix("misalign.").replace(".", "/")]
    elif source is None:  # defined in a notebook or a REPL: no source to read, so every module counts
        todo = sorted(p.relative_to(PACKAGE).with_suffix("").as_posix() for p in PACKAGE.rglob("*.py"))
        todo = [t.removesuffix("/__init__") for t in todo]
    else:
        todo = sorted(_imports(Path(source)))
    seen = {"__init__"}
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        todo += sorted(_imports(_source(rel)) - seen)
    return tuple(sorted(seen))


def code_digest(path: Path) -> str:
    """A hash of a Python file's code: its syntax tree without docstrings, so comments,
    docstrings and layout do not count, and every change of behaviour does."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


@lru_cache(maxsize=64)
def library_fingerprint(modules: tuple[str, ...]) -> str:
    """The version plus a hash of the named modules' code, so cached results follow code changes."""
    digest = hashlib.sha256(misalign.__version__.encode())
    for rel in sorted(modules):
        digest.update(rel.encode())
        digest.update(code_digest(_source(rel)).encode())
    return f"{misalign.__version__}-{digest.hexdigest()[:12]}"


def _plain(obj: Any) -> Any:
    """JSON fallback: objects that describe themselves as plain data (a Scenario's ``key()``)."""
    key = getattr(obj, "key", None)
    return key() if callable(key) else repr(obj)


def cell_key(fn: Callable[..., Any], settings: Mapping[str, Any], seed: int) -> str:
    """A stable hash of what determines ``fn(**settings, seed=seed)``."""
    blob = json.dumps(
        {
            "fn": f"{fn.__module__}.{fn.__qualname__}",
            "settings": dict(settings),
            "seed": seed,
            "library": library_fingerprint(module_closure(fn.__module__)),
        },
        sort_keys=True,
        default=_plain,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def atomic_dump(obj: Any, path: Path) -> None:
    """Write with joblib to a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
