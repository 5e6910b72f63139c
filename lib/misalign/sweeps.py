"""Sweeps: run a grid of settings x seeds in parallel, caching every finished cell on disk.

Each cell ``fn(**settings, seed=seed)`` is stored under a key made of the function's
name, its settings, the seed and the source of the modules it depends on (:mod:`misalign.cache`), written
atomically (a temporary file, then ``os.replace``). Rerunning a sweep loads finished
cells instead of recomputing them, so an interrupted sweep resumes where it stopped and
never meets half a file; editing a module the cell depends on invalidates it.

Parallelism goes through joblib: local processes by default. To run the same sweep on
a cluster, create a Dask client (``distributed.Client(...)``) and wrap the call in
``joblib.parallel_config(backend="dask")``; Ray works the same way through
``ray.util.joblib.register_ray()`` and ``backend="ray"``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from tqdm.auto import tqdm

from misalign.cache import atomic_dump, cell_key, default_cache_dir
from misalign.validation import check_int_range


def _run_cell(fn: Callable[..., Any], settings: Mapping[str, Any], seed: int, path: Path | None) -> Any:
    if path is not None and path.exists():
        return joblib.load(path)
    result = fn(**settings, seed=seed)
    if path is not None:
        atomic_dump(result, path)
    return result


def expand_grid(**axes: Iterable[Any]) -> list[dict[str, Any]]:
    """All combinations of the given settings, as a list of dicts."""
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(list(v) for v in axes.values()))]


def run_sweep(
    fn: Callable[..., Any],
    grid: Sequence[Mapping[str, Any]],
    seeds: int | Sequence[int],
    *,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 2,
    progress: bool = False,
    use_cache: bool = True,
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Run ``fn(**settings, seed=s)`` for every settings dict in ``grid`` and every seed.

    ``fn`` must be importable (a module-level function) and return a dict of results, a
    DataFrame, or a dict of named DataFrames (several tables). Returns one table: the
    settings and seed as columns, then the results (a DataFrame result contributes all of
    its rows); for cells returning named tables, a dict of such tables, one per name.
    """
    if isinstance(seeds, int):
        check_int_range("seeds", seeds, 0, 10**6)
        seeds = list(range(seeds))
    else:
        seeds = [int(s) for s in seeds]
        for s in seeds:
            check_int_range("seed", s, 0, 2**63 - 1)
    grid = [dict(g) for g in grid]
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / "sweeps" / f"{fn.__module__}.{fn.__qualname__}"
    cells = [(g, s) for g in grid for s in seeds]
    paths = [folder / f"{cell_key(fn, g, s)}.pkl" if use_cache else None for g, s in cells]
    todo = [i for i, p in enumerate(paths) if p is None or not p.exists()]
    pending = set(todo)
    results: list[Any] = [None] * len(cells)
    for i, p in enumerate(paths):
        if i not in pending:
            results[i] = joblib.load(p)
    if todo:
        jobs = (joblib.delayed(_run_cell)(fn, cells[i][0], cells[i][1], paths[i]) for i in todo)
        out = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
        for i, res in zip(todo, tqdm(out, total=len(todo), disable=not progress, desc=fn.__name__), strict=True):
            results[i] = res
    if results and all(_is_tables(r) for r in results):
        names = list(dict.fromkeys(name for r in results for name in r))
        return {
            name: _stack([(g, s, r[name]) for (g, s), r in zip(cells, results, strict=True) if name in r])
            for name in names
        }
    return _stack([(g, s, r) for (g, s), r in zip(cells, results, strict=True)])


def _is_tables(result: Any) -> bool:
    """A cell that returns several tables: a mapping of names to DataFrames."""
    return isinstance(result, Mapping) and bool(result) and all(isinstance(v, pd.DataFrame) for v in result.values())


def _stack(parts: Sequence[tuple[Mapping[str, Any], int, Any]]) -> pd.DataFrame:
    """One table from cell results (a DataFrame, or a dict as one row), settings and seed first."""
    frames = []
    for g, s, res in parts:
        table = res.copy() if isinstance(res, pd.DataFrame) else pd.DataFrame([res])
        for j, (k, v) in enumerate({**g, "seed": s}.items()):
            if k in table.columns:  # the function reported this setting itself
                table.pop(k)
            table.insert(j, k, [v] * len(table))
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
