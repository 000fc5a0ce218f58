"""One error hierarchy: every deliberate exception is an MbpVerifyError."""

import mbp_verify
from mbp_verify import errors, suite


def test_every_error_shares_the_base():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.MbpVerifyError)


def test_input_error_is_still_a_value_error():
    assert issubclass(errors.InputError, ValueError)


def test_one_class_per_error_wherever_it_is_imported_from():
    assert suite.CodeUnderTestError is errors.CodeUnderTestError is mbp_verify.CodeUnderTestError
    assert suite.Inconclusive is errors.Inconclusive is mbp_verify.Inconclusive
