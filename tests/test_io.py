"""Outputs every reader can read (synpretrain.io)."""
from __future__ import annotations

import json

import numpy as np

from synpretrain.io import read_json, write_json


def test_json_outputs_are_valid_json(tmp_path):
    """A NaN (an MD run's drift that could not be measured, a diverged model's RMSE) is null, not
    the bare `NaN` Python writes and strict readers reject."""
    path = tmp_path / "stability.json"
    write_json(path, {"drift": float("nan"), "inf": np.inf, "steps": np.int64(3), "ok": np.bool_(True),
                      "list": [np.float32(1.5), float("-inf")]})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))   # strict
    assert read_json(path) == {"drift": None, "inf": None, "steps": 3, "ok": True, "list": [1.5, None]}
