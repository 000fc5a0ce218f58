"""A reader that closes standard output early (`mbp-verify ... | head`) ends the command quietly
with 141 (128 + SIGPIPE), not with a traceback and the internal-error code 3."""

from __future__ import annotations

import os
import subprocess
import sys


def test_closed_stdout_exits_141_without_a_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mbp_verify", "lipschitz", "tanh"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr


def test_open_stdout_still_exits_0():
    """The control: the same command with a reader exits 0 and prints the constant."""
    done = subprocess.run(
        [sys.executable, "-m", "mbp_verify", "lipschitz", "tanh"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "sigma(x)" in done.stdout
