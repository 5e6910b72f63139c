"""Cache keys follow behaviour: comments, docstrings and layout do not retrain anything; code does."""

from __future__ import annotations

from pathlib import Path

from misalign.cache import code_digest

BASE = '''"""A module docstring."""

import numpy as np


class Walker:
    """Says why."""

    def step(self, x):
        """Take one step."""
        return np.clip(x + 1, 0, 8)  # stay on the canvas


def rate():
    return 0.5
'''


def _digest(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return code_digest(path)


def test_comments_docstrings_and_layout_do_not_change_the_digest(tmp_path: Path) -> None:
    same = (
        BASE.replace('"""A module docstring."""', '"""Another docstring, longer,\n\nover lines."""')
        .replace('"""Says why."""', '"""Says something else."""')
        .replace('        """Take one step."""\n', "")
        .replace("  # stay on the canvas", "")
        .replace("np.clip(x + 1, 0, 8)", "np.clip(\n            x + 1,\n            0,\n            8,\n        )")
        + "\n# a trailing comment\n"
    )
    assert _digest(tmp_path, "a", BASE) == _digest(tmp_path, "b", same)


def test_every_change_of_code_changes_the_digest(tmp_path: Path) -> None:
    base = _digest(tmp_path, "base", BASE)
    changed = {
        "constant": BASE.replace("x + 1", "x + 2"),
        "call": BASE.replace("np.clip", "np.minimum"),
        "return value": BASE.replace("return 0.5", "return 0.25"),
        "a string that is not a docstring": BASE.replace("return 0.5", 'label = "doc"\n    return 0.5'),
        "a new function": BASE + "\n\ndef extra():\n    return 1\n",
    }
    digests = {what: _digest(tmp_path, f"c{i}", text) for i, (what, text) in enumerate(changed.items())}
    assert all(d != base for d in digests.values()), digests
    assert len(set(digests.values())) == len(digests)
