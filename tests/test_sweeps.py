"""The sweep runner: caching, resuming after a kill, no corrupt files, a Dask backend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest
from misalign.sweeps import expand_grid, run_sweep


def square(x: int, seed: int) -> dict:
    return {"y": x * x + seed}


def test_grid_and_seeds_become_columns(tmp_path: Path) -> None:
    table = run_sweep(square, expand_grid(x=[1, 2, 3]), seeds=2, cache_dir=tmp_path, n_jobs=1)
    assert list(table.columns) == ["x", "seed", "y"]
    assert table["y"].tolist() == [1, 2, 4, 5, 9, 10]


def two_tables(x: int, seed: int) -> dict[str, pd.DataFrame]:
    tables = {"rows": pd.DataFrame({"k": range(x), "v": [seed] * x})}
    if x > 1:  # a table some cells do not produce
        tables["extra"] = pd.DataFrame({"w": [x * 10]})
    return tables


def test_cells_returning_named_tables_give_one_table_per_name(tmp_path: Path) -> None:
    out = run_sweep(two_tables, expand_grid(x=[1, 2]), seeds=[0, 5], cache_dir=tmp_path, n_jobs=1)
    assert set(out) == {"rows", "extra"}
    rows, extra = out["rows"], out["extra"]
    assert list(rows.columns) == ["x", "seed", "k", "v"]
    assert rows[["x", "seed", "k"]].values.tolist() == [
        [1, 0, 0],
        [1, 5, 0],
        [2, 0, 0],
        [2, 0, 1],
        [2, 5, 0],
        [2, 5, 1],
    ]
    assert (rows["v"] == rows["seed"]).all()
    assert extra[["x", "seed", "w"]].values.tolist() == [[2, 0, 20], [2, 5, 20]]


def test_bad_seed_count_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"seeds must be an integer in \[0"):
        run_sweep(square, [{"x": 1}], seeds=-1, cache_dir=tmp_path)


SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from misalign.sweeps import run_sweep

    LOG = Path(sys.argv[2])

    def slow(i, seed):
        with LOG.open("a") as fh:
            fh.write(f"{i}\\n")
        time.sleep(0.4)
        return {"i": i, "double": 2 * i}

    if __name__ == "__main__":
        table = run_sweep(slow, [{"i": i} for i in range(8)], seeds=[0], cache_dir=sys.argv[1], n_jobs=1)
        print("DONE", table["double"].sum())
""")


def test_killed_sweep_resumes_without_recomputing(tmp_path: Path) -> None:
    script = tmp_path / "sweep_script.py"
    script.write_text(SCRIPT)
    cache, log = tmp_path / "cache", tmp_path / "calls.log"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, str(script), str(cache), str(log)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some cells have finished, then kill mid-sweep
        done = list(cache.rglob("*.pkl")) if cache.exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name for p in cache.rglob("*.pkl")}
    assert 3 <= len(finished) < 8, "the kill should land mid-sweep"
    for p in cache.rglob("*.pkl"):
        joblib.load(p)  # every finished cell is a whole, readable file
    calls_before = log.read_text().split()
    out = subprocess.run(
        [sys.executable, str(script), str(cache), str(log)], env=env, capture_output=True, text=True, check=True
    )
    assert "DONE 56" in out.stdout
    calls_after = log.read_text().split()[len(calls_before) :]
    # cells that had finished before the kill are not run again; the one interrupted mid-call is
    assert len(calls_after) == 8 - len(finished)
    assert sorted(calls_after) == sorted(set(calls_after)) and len(set(calls_before)) - len(finished) in (0, 1)
    results = list(cache.rglob("*.pkl"))
    assert len(results) == 8 and {joblib.load(p)["double"] for p in results} == {2 * i for i in range(8)}


def test_cache_is_reused_and_keyed_by_settings(tmp_path: Path) -> None:
    first = run_sweep(square, [{"x": 2}], seeds=[1], cache_dir=tmp_path, n_jobs=1)
    files = list(tmp_path.rglob("*.pkl"))
    assert len(files) == 1
    joblib.dump({"y": -99}, files[0])  # a cached cell is read back, not recomputed
    again = run_sweep(square, [{"x": 2}], seeds=[1], cache_dir=tmp_path, n_jobs=1)
    assert first["y"].item() == 5 and again["y"].item() == -99
    other = run_sweep(square, [{"x": 3}], seeds=[1], cache_dir=tmp_path, n_jobs=1)
    assert other["y"].item() == 10


def test_dask_backend_gives_the_same_table(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = run_sweep(square, expand_grid(x=[1, 2]), seeds=2, use_cache=False, n_jobs=1)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        remote = run_sweep(square, expand_grid(x=[1, 2]), seeds=2, cache_dir=tmp_path, n_jobs=2)
    pd.testing.assert_frame_equal(local, remote)
    assert len(list(tmp_path.rglob("*.pkl"))) == 4


def test_a_cell_defined_in_a_notebook_is_cached_too(tmp_path: Path) -> None:
    """A reader's own cell function has no source file (it lives in a notebook's __main__)."""
    import types

    notebook = types.ModuleType("reader_notebook")  # no __file__, like a notebook's __main__
    exec("def cube(x, seed):\n    return {'y': x ** 3 + seed}\n", notebook.__dict__)
    sys.modules["reader_notebook"] = notebook
    try:
        first = run_sweep(notebook.cube, [{"x": 2}], seeds=[1], cache_dir=tmp_path, n_jobs=1)
        again = run_sweep(notebook.cube, [{"x": 2}], seeds=[1], cache_dir=tmp_path, n_jobs=1)
    finally:
        del sys.modules["reader_notebook"]
    assert first["y"].tolist() == again["y"].tolist() == [9]
    assert len(list(tmp_path.rglob("*.pkl"))) == 1


def test_seed_verdicts_and_the_verdict_table_count_policies_with_exact_intervals() -> None:
    import pandas as pd
    from misalign.experiments.behavioural import seed_verdicts, verdict_table
    from misalign.stats import seed_count_ci

    outcomes = {
        0: ["inner misalignment"] * 3 + ["aligned"],
        1: ["capability failure"] * 3 + ["inner misalignment"],
        2: ["inner misalignment", "aligned"],
    }  # seed 2 ties: the earlier outcome in OUTCOMES wins
    episodes = pd.DataFrame([{"scenario": "s", "seed": s, "outcome": o} for s, outs in outcomes.items() for o in outs])
    per_seed = seed_verdicts(episodes)
    assert per_seed["verdict"].tolist() == ["inner misalignment", "capability failure", "aligned"]
    row = verdict_table(per_seed, {"s": "inner misalignment"}).iloc[0]
    assert (row["seeds"], row["n"]) == (1, 3)
    assert (row["share"], row["low"], row["high"]) == pytest.approx(seed_count_ci(1, 3))
    assert row["other verdict"] in ("capability failure", "aligned") and row["other seeds"] == 1
    none = verdict_table(per_seed, {"s": "tampering failure"}).iloc[0]
    assert none["seeds"] == 0 and none["low"] == 0.0 and 0 < none["high"] < 1
