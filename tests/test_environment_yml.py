"""environment.yml (Binder, conda) agrees with pyproject.toml (pip)."""

from __future__ import annotations

import tomllib

import yaml
from conftest import ROOT, requirement_name

# pip name -> names conda-forge may use for the same package
CONDA_NAMES = {"torch": {"torch", "pytorch", "pytorch-cpu"}}


def _env() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def _conda_and_pip() -> tuple[list[str], list[str]]:
    conda, pip = [], []
    for dep in _env()["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
        else:
            conda.append(dep)
    return conda, pip


def test_every_runtime_dependency_is_in_environment_yml() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    conda, pip = _conda_and_pip()
    listed = {requirement_name(d) for d in conda + pip if not d.startswith("-")}
    missing = [
        d for d in project["dependencies"] if not CONDA_NAMES.get(requirement_name(d), {requirement_name(d)}) & listed
    ]
    assert not missing, f"add to environment.yml: {missing}"


def test_python_311_from_conda_forge() -> None:
    conda, _ = _conda_and_pip()
    assert "python=3.11" in [d.replace(" ", "") for d in conda]
    assert _env()["channels"] == ["conda-forge"]


def test_pip_installs_the_project() -> None:
    _, pip = _conda_and_pip()
    assert any(p.replace(" ", "") in {"-e.", "."} for p in pip), "pip must install the project"
