"""The pruner under test runs in a worker process (mbp_verify.conformance.isolation).

Faults of the code under test become `CodeUnderTestError` naming what happened, the next
call gets a fresh worker, the user's module is never imported in the checker, and what the
pruner sees and returns is what it would see and return in-process (layouts, read-only
flags, in-place changes, exception types).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from mbp_verify.conformance import PrunerUnderTest, load_pruner
from mbp_verify.conformance.isolation import describe_exit
from mbp_verify.errors import InputError
from mbp_verify.strategies import VIEW_KINDS, as_view
from mbp_verify.suite import CodeUnderTestError

CALLS = "tests.cli.hostile.calls"
W = np.array([3.0, -1.0, 0.5, 2.0, -4.0, 0.25])
EXPECTED = np.array([True, True, False, True, True, False])


def _pruner(name: str, timeout_s: float = 20.0, **kwargs) -> PrunerUnderTest:
    return PrunerUnderTest(load_pruner(f"{CALLS}:{name}", **kwargs), spec=name, timeout_s=timeout_s)


@pytest.mark.parametrize(
    "name, words",
    [
        ("exit_zero", "the pruner exited with status 0 (sys.exit)"),
        ("exit_three", "the pruner exited with status 3 (sys.exit)"),
        ("os_exit_zero", "the pruner's process exited with status 0"),
        ("kill_self", "the pruner's process was killed by SIGKILL"),
        ("segfault", "the pruner's process was killed by SIGSEGV"),
        ("base_exception", "the pruner raised BaseException: not an Exception"),
    ],
)
def test_a_pruner_ending_its_process_is_an_error_naming_how(name, words):
    pruner = _pruner(name)
    for _ in range(2):  # and again on a fresh worker
        with pytest.raises(CodeUnderTestError) as info:
            pruner.prune(W, 2)
        assert str(info.value) == f"prune(weights, n_prune): {words}"


# The pruner's process can write anything into the pipe. Unpickled as is, a forged answer ran any
# callable in the checker, and a forged raise of SystemExit(0) was re-raised there: check-pruner
# exited 0 (the os._exit(0) pickle is run through the CLI in tests/cli/test_hostile_pruners.py).
FORGED = {
    "forged_system_exit": "UnpicklingError: builtins.SystemExit is not an answer's data type",
    "forged_change_of_no_argument": "list index out of range",  # was an IndexError in the checker: exit 3
    "forged_malformed": "a tuple of the wrong form",
}


@pytest.mark.parametrize("name", sorted(FORGED))
def test_a_forged_answer_is_an_error_of_the_pruner_never_run_or_raised_by_the_checker(name):
    pruner = _pruner(name, timeout_s=5.0)
    with pytest.raises(CodeUnderTestError) as info:
        pruner.prune(W, 2)
    assert str(info.value) == (
        f"prune(weights, n_prune): the pruner's process sent something that is not an answer ({FORGED[name]})"
    )


@pytest.mark.parametrize("name", ["matrix_mask", "masked_array_mask"])
def test_a_numpy_subclass_answer_arrives_as_its_values(name):
    """Such an answer was refused by the checker's unpickler (every property `error`)."""
    answer = _pruner(name).prune(W.reshape(2, 3), 2)
    assert type(answer) is np.ndarray and np.array_equal(answer, EXPECTED.reshape(2, 3))


def test_the_parent_owns_the_time_limit_even_when_the_pruner_blocks_sigalrm():
    pruner = _pruner("block_alarm_and_sleep", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(CodeUnderTestError, match=r"timed out after 0.5 s \(the pruner's process was killed\)"):
        pruner.prune(W, 2)
    assert time.monotonic() - started < 10


def test_after_a_crash_the_next_call_gets_a_fresh_worker():
    pruner = _pruner("segfault_when_one")
    assert np.array_equal(pruner.prune(W, 2), EXPECTED)
    with pytest.raises(CodeUnderTestError, match="SIGSEGV"):
        pruner.prune(W, 1)
    assert np.array_equal(pruner.prune(W, 2), EXPECTED)


def test_the_users_module_is_never_imported_by_the_checker():
    pruner = _pruner("raise_odd")
    with pytest.raises(CodeUnderTestError, match="prune\\(weights, n_prune\\) raised OddError: odd input"):
        pruner.prune(W, 2)
    assert CALLS not in sys.modules


@pytest.mark.parametrize("module", ["hang_at_import", "exit_at_import"])
def test_a_module_that_hangs_or_exits_at_import_is_an_input_error(module):
    words = "timed out after 0.5 s at import" if module.startswith("hang") else "exited with status 0 at import"
    with pytest.raises(InputError, match=words):
        load_pruner(f"tests.cli.hostile.{module}:prune", timeout_s=0.5)


def test_load_failures_are_one_line_input_errors():
    with pytest.raises(InputError, match="cannot import module 'tests.cli.hostile.nowhere'"):
        load_pruner("tests.cli.hostile.nowhere:prune")
    with pytest.raises(InputError, match="has no attribute 'nothing'"):
        load_pruner(f"{CALLS}:nothing")
    with pytest.raises(InputError, match="MODULE:ATTR"):
        load_pruner("no colon")
    with pytest.raises(InputError):
        load_pruner(f"{CALLS}:correct", rules="tie=sideways")


def test_exceptions_keep_their_type_for_declared_policies():
    pruner = _pruner("raise_value")
    with pytest.raises(ValueError, match="NaN weights are refused"):
        pruner.raw_prune(W, 2)


def test_layouts_and_read_only_flags_arrive_as_they_were_sent():
    pruner = _pruner("layout")
    base = np.arange(24.0).reshape(4, 6)
    for kind in VIEW_KINDS:
        view = as_view(base, kind)
        got = pruner.prune(view, 1)
        assert got[:-1].tolist() == [s // view.itemsize for s in view.strides] and got[-1] == 1, kind
    frozen = np.array(W)
    frozen.flags.writeable = False
    assert pruner.prune(frozen, 1)[-1] == 0


def test_in_place_changes_reach_the_callers_array():
    weights = W.copy()
    mask = _pruner("zero_in_place").prune(weights, 2)
    assert np.array_equal(mask, EXPECTED) and np.array_equal(weights, np.where(EXPECTED, W, 0.0))
    frozen = W.copy()
    frozen.flags.writeable = False
    with pytest.raises(CodeUnderTestError, match="read-only"):  # as it would in-process
        _pruner("zero_in_place").prune(frozen, 2)


def test_returned_values_are_handed_to_the_properties_unjudged():
    assert _pruner("return_list").prune(W, 2).tolist() == EXPECTED.tolist()
    assert _pruner("wrong_dtype").prune(W, 2).dtype == np.float32
    assert _pruner("print_megabytes").prune(W, 2).tolist() == EXPECTED.tolist()
    returned = _pruner("return_object").prune(W, 2)
    assert returned.dtype.kind == "U" and "not a mask" in str(returned)  # no user class crosses over


def test_any_hook_is_forwarded_by_name_and_rules_are_the_effective_ones():
    adapter = load_pruner(f"{CALLS}:Adapter", rules="nan=largest")
    assert adapter.rules.tie == "index" and adapter.rules.nan == "largest"  # declared, then overridden
    assert "nan=largest" in adapter.describe() and "custom_hook" in adapter.describe()
    total, pid = adapter.custom_hook(2, 3)
    assert total == 5 and pid != os.getpid()
    assert adapter.call("custom_hook", 1, 1)[0] == 2
    assert not hasattr(adapter, "prune_global")


def test_describe_exit():
    assert describe_exit(3) == "exited with status 3"
    assert describe_exit(-11) == "was killed by SIGSEGV"
    assert describe_exit(-200) == "was killed by signal 200"


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["bfloat16", "sparse"])
def test_a_torch_mask_numpy_has_no_type_for_is_still_the_mask(kind):
    """numpy has no bfloat16 and no sparse arrays: the conversion failed and the mask was reported
    as the pruner raising TypeError (status error)."""
    pytest.importorskip("torch")
    mask = _pruner(f"torch_{kind}_mask").prune(W, 2)
    assert np.array_equal(np.asarray(mask).astype(bool), EXPECTED)


@pytest.mark.torch
def test_a_tensor_without_values_is_an_answer_to_judge_not_a_raise():
    pytest.importorskip("torch")
    answer = _pruner("torch_meta_mask").prune(W, 2)
    assert isinstance(answer, np.ndarray) and answer.shape == () and "a tensor without values" in str(answer)
