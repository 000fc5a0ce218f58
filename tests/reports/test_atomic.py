"""Atomic writes follow the umask, leave no temp file behind, and write the non-finite convention."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest

from mbp_verify.reports.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, current_umask, file_mode, json_ready, json_text
from mbp_verify.reports.folders import staged_folder


@pytest.fixture(params=[0o022, 0o027, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_and_folders_follow_the_umask(umask, tmp_path):
    assert current_umask() == umask and file_mode() == 0o666 & ~umask
    assert _mode(atomic_write_text(tmp_path / "a.txt", "x")) == 0o666 & ~umask  # mkstemp alone gives 0o600
    assert _mode(atomic_write_json(tmp_path / "new" / "b.json", {"v": 1})) == 0o666 & ~umask
    assert _mode(tmp_path / "new") == 0o777 & ~umask
    with staged_folder(tmp_path / "run-1") as staging:
        atomic_write_text(staging / "report.md", "x")
    assert _mode(tmp_path / "run-1") == 0o777 & ~umask and _mode(tmp_path / "run-1" / "report.md") == 0o666 & ~umask


def test_cli_json_follows_the_umask(tmp_path, capsys):
    from mbp_verify.cli import main

    old = os.umask(0o027)
    try:
        assert main(["lipschitz", "relu", "--json", str(tmp_path / "l.json")]) == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "l.json") == 0o640


def test_a_failed_write_leaves_neither_temp_file_nor_a_changed_target(tmp_path):
    target = tmp_path / "x.json"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})
    with pytest.raises(TypeError):  # a failure while writing the temp file
        atomic_write_bytes(target, None)  # type: ignore[arg-type]
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.json"]


def test_non_finite_floats_become_strings_everywhere():
    value = {"a": math.inf, "b": -math.inf, "c": math.nan, "d": np.float32("inf"), "e": np.float64("-inf"),
             "f": np.array([1.0, np.nan, -np.inf]), 3: (np.bool_(True), np.int64(7), 2.5, True, None, "nan")}
    ready = json_ready(value)
    assert ready == {"a": "inf", "b": "-inf", "c": "nan", "d": "inf", "e": "-inf", "f": [1.0, "nan", "-inf"],
                     "3": [True, 7, 2.5, True, None, "nan"]}
    assert type(ready["3"][0]) is bool and type(ready["3"][1]) is int
    text = json_text(value)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda token: pytest.fail(token)) == ready


def test_objects_with_to_dict_are_converted_recursively():
    class Result:
        def to_dict(self):
            return {"upper": math.inf, "nested": [np.float64(1.5)]}

    assert json_ready({"r": Result()}) == {"r": {"upper": "inf", "nested": [1.5]}}
