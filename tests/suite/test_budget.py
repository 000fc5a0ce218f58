"""The false-failure budget is summed from the shares the properties declare, not kept by hand."""

import json
import shutil

import pytest

from mbp_verify.suite import mbp_property
from mbp_verify.suite.budget import FALSE_FAILURE_LIMIT, collect_shares, declared_share, false_failure_budget
from mbp_verify.suite.runner import properties_dir


def test_declared_share_reads_the_decorator():
    @mbp_property(id="demo.stat", statement="s", source="t", false_failure=3e-6)
    def test_stat():
        pass

    @mbp_property(id="demo.exact", statement="s", source="t")
    def test_exact():
        pass

    assert declared_share(test_stat) == 3e-6
    assert declared_share(test_exact) == 0.0
    with pytest.raises(ValueError, match="not decorated"):
        declared_share(lambda: None)


@pytest.mark.parametrize("bad", [-1e-6, 1.0, float("nan"), "1e-5", True])
def test_bad_shares_are_refused(bad):
    with pytest.raises(ValueError, match="false_failure"):
        mbp_property(id="demo.bad", statement="s", source="t", false_failure=bad)


def test_budget_sums_and_flags_one_more():
    budget = false_failure_budget({"a.x": 6e-5, "b.y": 4e-5, "c.z": 0.0})
    assert budget.holds and budget.total == pytest.approx(1e-4)
    assert list(budget.statistical()) == ["a.x", "b.y"]
    assert not false_failure_budget({"a.x": 6e-5, "b.y": 4e-5, "d.w": 1e-9}).holds


class _Item:
    def __init__(self, **kwargs):
        self._marker = pytest.mark.mbp_property(statement="s", source="t", **kwargs).mark

    def get_closest_marker(self, name):
        return self._marker if name == "mbp_property" else None


def test_items_of_one_property_must_agree():
    items = [_Item(id="a.x", false_failure=1e-6), _Item(id="a.x", false_failure=1e-6), _Item(id="b.y")]
    assert collect_shares(items) == {"a.x": 1e-6, "b.y": 0.0}
    with pytest.raises(ValueError, match="two different"):
        collect_shares([*items, _Item(id="a.x", false_failure=2e-6)])


STATISTICAL = """
from mbp_verify.suite import mbp_property

@mbp_property(id="demo.{name}", statement="a statistical check", source="test", false_failure={share!r})
def test_{name}():
    pass
"""


def _suite_with(pytester, shares: dict[str, float], name: str = "props"):
    """The real conftest and budget property in a suite whose statistical properties declare `shares`."""
    root = pytester.path / name
    (root / "suite").mkdir(parents=True)
    for folder in (root, root / "suite"):
        (folder / "__init__.py").write_text("")
    shutil.copy(properties_dir() / "conftest.py", root / "conftest.py")
    shutil.copy(properties_dir() / "suite" / "test_budget.py", root / "suite" / "test_budget.py")
    for name, share in shares.items():
        (root / f"test_{name}.py").write_text(STATISTICAL.format(name=name, share=share))
    report = pytester.path / f"{name}-report"
    pytester.runpytest_subprocess(str(root), "--mbp-report-dir", str(report), "-p", "no:cacheprovider")
    statuses = {p["id"]: p for p in json.loads((report / "report.json").read_text())["properties"]}
    return statuses["suite.false_failure_budget"]


def test_the_budget_property_passes_within_the_limit_and_fails_with_one_more(pytester):
    within = _suite_with(pytester, {"first": 6e-5, "second": 4e-5})
    assert within["status"] == "pass", within
    assert within["evidence"]["total"] == pytest.approx(FALSE_FAILURE_LIMIT)
    over = _suite_with(pytester, {"first": 6e-5, "second": 4e-5, "third": 1e-6}, name="props_over")
    assert over["status"] == "fail" and "> limit" in over["message"], over


def test_the_budget_property_skips_when_part_of_the_suite_is_not_collected(pytester):
    root = pytester.path / "props"
    _suite_with(pytester, {"first": 1e-6})
    report = pytester.path / "out2"
    pytester.runpytest_subprocess(str(root / "suite"), "--mbp-report-dir", str(report), "-p", "no:cacheprovider")
    budget = {p["id"]: p for p in json.loads((report / "report.json").read_text())["properties"]}
    assert budget["suite.false_failure_budget"]["status"] == "skip"
    assert "test_first.py" in budget["suite.false_failure_budget"]["message"]
