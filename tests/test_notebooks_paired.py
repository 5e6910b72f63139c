"""Every chapter is a jupytext pair in sync, committed without outputs, fit for papermill."""

from __future__ import annotations

import ast
import json

import jupytext
import pytest
import yaml
from build_book import toc_files
from conftest import BOOK, ROOT, chapter_stems, config

STEMS = chapter_stems()
REQUIRED_PARAMETERS = {"profile", "seeds", "device"}


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


def test_there_is_at_least_one_chapter() -> None:
    assert STEMS, "no chapter notebooks in book/"


@pytest.mark.parametrize("stem", STEMS)
def test_pair_exists(stem: str) -> None:
    for suffix in (".py", ".ipynb"):
        assert (BOOK / f"{stem}{suffix}").is_file(), (
            f"book/{stem}{suffix} is missing: pair it with `jupytext --sync book/{stem}.*`"
        )


@pytest.mark.parametrize("stem", STEMS)
def test_pair_in_sync(stem: str) -> None:
    py = jupytext.read(BOOK / f"{stem}.py")
    ipynb = jupytext.read(BOOK / f"{stem}.ipynb")
    assert _cells(py) == _cells(ipynb), f"book/{stem}.py and .ipynb differ: run `jupytext --sync book/{stem}.py`"


@pytest.mark.parametrize("stem", STEMS)
def test_no_outputs_committed(stem: str) -> None:
    raw = json.loads((BOOK / f"{stem}.ipynb").read_text(encoding="utf-8"))
    for i, cell in enumerate(raw["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"book/{stem}.ipynb cell {i + 1} has outputs"
            assert cell.get("execution_count") is None, f"book/{stem}.ipynb cell {i + 1} has an execution count"


@pytest.mark.parametrize("stem", STEMS)
def test_no_execution_metadata_leaked(stem: str) -> None:
    raw = json.loads((BOOK / f"{stem}.ipynb").read_text(encoding="utf-8"))
    assert "papermill" not in raw["metadata"]
    for cell in raw["cells"]:
        assert "papermill" not in cell.get("metadata", {})
        assert "execution" not in cell.get("metadata", {})
        assert "injected-parameters" not in cell.get("metadata", {}).get("tags", [])
    text = (BOOK / f"{stem}.py").read_text(encoding="utf-8")
    assert "papermill" not in text and "injected-parameters" not in text


@pytest.mark.parametrize("stem", STEMS)
def test_colab_install_cell_first(stem: str) -> None:
    first = jupytext.read(BOOK / f"{stem}.py").cells[0]
    tags = set(first.metadata.get("tags", []))
    assert first.cell_type == "code"
    assert tags & {"remove-output", "hide-output"}, "tag it remove-output or hide-output"
    assert '"google.colab" in sys.modules' in first.source
    url = config()["repository"]["url"]
    assert f"git+{url}" in first.source, f"the install must use the repository url {url}"


@pytest.mark.parametrize("stem", STEMS)
def test_parameters_cell(stem: str) -> None:
    nb = jupytext.read(BOOK / f"{stem}.py")
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged `parameters`"
    assigned = {
        target.id: node.value
        for node in ast.parse(cells[0].source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert REQUIRED_PARAMETERS <= set(assigned), f"missing {REQUIRED_PARAMETERS - set(assigned)}"
    assert ast.literal_eval(assigned["profile"]) == "full", "the default profile is the published one"


def test_every_chapter_is_in_the_toc() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    entries = {e.removesuffix(".md").removesuffix(".ipynb") for e in toc_files(toc)}
    for stem in STEMS:
        assert f"book/{stem}" in entries, f"book/{stem} is not listed in _toc.yml"
    for entry in entries:
        assert any((ROOT / f"{entry}{s}").is_file() for s in (".md", ".ipynb", ".py")), entry
