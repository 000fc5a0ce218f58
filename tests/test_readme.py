"""Every shell command in README.md runs as written.

The commands are extracted from the README's ```bash blocks. Each `mbp-verify` command is
parsed by the real argument parser, and every option it names must be one the subcommand
defines exactly (no abbreviations). Cheap commands then run for real in a scratch folder holding
the files they name (a pruner package, a network, weight files); the expensive ones (the whole
suite, the default theorem sweep) are parse-checked only and listed in PARSE_ONLY with the
reason. Install commands must name extras that pyproject.toml defines, and the test command
must be the one CI runs (.ci/run). The commands of the user guide (docs/guide/, benchmarks,
findings) are parse-checked the same way. The README's Python block and the library guide's
first block run too, and every relative link in README.md and docs/ points at a file in the
repository (and at an existing heading when it names one).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mbp_verify as mv
from mbp_verify.cli import build_parser, main
from mbp_verify.engine import load_any_network

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI_SCRIPT = ROOT / ".ci" / "run"
MAX_README_LINES = 300

# Commands that would take minutes: checked against the parser only.
PARSE_ONLY = {
    "mbp-verify run": "the whole property suite (minutes); CI runs the suite through pytest",
    "mbp-verify run --quick": "the whole property suite",
    "mbp-verify run -k gamma": "collects the whole suite in 2 workers (about 10 CPU-seconds); "
    "tests/cli/test_run.py runs `run -k` for real with 1 and 2 workers",
    "mbp-verify run --workers 1 --json out.json": "the whole property suite",
    "mbp-verify check-pruner mypkg.pruning:prune": "the whole pruner specification",
    "mbp-verify check-pruner mypkg.pruning:prune --rules tie=index,nan=raise": "the whole pruner specification",
    "mbp-verify check-pruner mbp_verify.adapters.torch_prune:L1Unstructured": "the whole pruner specification on torch",
    "mbp-verify theorem": "the default sweep: 10 cells of up to 140 trials, up to d = 1024",
    "mbp-verify theorem --weights cauchy --widths 64 --trials 20": "spawns worker processes (about 10 s)",
    "mbp-verify theorem --pruning random,magnitude --widths 64,128,256 --alpha 0.3 --eps 0.3": "two families of "
    "3 cells of up to 140 trials; tests/theorem/test_cnn.py runs small sweeps of several rules",
    "mbp-verify theorem --arch cnn --workers 2": "the default CNN sweep (about 4 min on 2 cores); "
    "tests/theorem/test_cnn_sweep.py runs a small one end to end",
    "mbp-verify theorem --resume reports/theorem-20260101T000000Z-seed20210701": "needs an interrupted run's folder; "
    "tests/theorem/test_checkpoint.py resumes real checkpoints",
    "mbp-verify theorem --executor dask --workers 8": "the default sweep on a Dask cluster (extra `dask`)",
    "mbp-verify theorem --executor dask --scheduler tcp://HOST:8786": "needs a running Dask scheduler",
}

# Commands that import a user's package: run in a subprocess, so that nothing they import stays in
# the test process (the others run in-process through the same `main` the console script calls).
SUBPROCESS = {"check-pruner"}

PRUNER = '''import numpy as np


def prune(weights, n_prune):
    """Prune the n_prune smallest magnitudes (ties: smaller flat index first)."""
    w = np.asarray(weights)
    order = np.argsort(np.abs(w), axis=None, kind="stable")
    keep = np.ones(w.size, dtype=bool)
    keep[order[:n_prune]] = False
    return keep.reshape(w.shape)
'''


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def readme_commands(path: Path = README) -> list[str]:
    """Every command line of a page's bash blocks, comments stripped, continuations joined."""
    commands = []
    for block in _blocks(path, "bash"):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if tokens:
                commands.append(shlex.join(tokens))
    return commands


def _segments(command: str) -> list[list[str]]:
    """A command split at `&&` into token lists."""
    segments: list[list[str]] = [[]]
    for token in shlex.split(command):
        if token == "&&":
            segments.append([])
        else:
            segments[-1].append(token)
    return segments


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices[name] if name else parser


def _check_options(argv: list[str]) -> None:
    """Every option token must be spelled exactly as the (sub)command defines it."""
    command = argv[0] if argv and not argv[0].startswith("-") else ""
    known = {option for action in _subparser(command)._actions for option in action.option_strings}
    for token in argv[1 if command else 0 :]:
        if token.startswith("-") and not re.fullmatch(r"-[0-9.]+", token):
            assert token.split("=")[0] in known, f"option {token!r} is not an option of `mbp-verify {command}`"


def _parse(argv: list[str], capsys) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        err = capsys.readouterr().err
        assert exc.code == 0 and ("--help" in argv or "-h" in argv), f"parser rejected {argv}: {err}"
    _check_options(argv)


def _write_inputs(folder: Path, argv: list[str]) -> None:
    """Small, valid versions of the files a README command names."""
    package = folder / "mypkg"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "pruning.py").write_text(PRUNER)
    net = mv.sample_network([16, 32, 32, 8], mv.rng_for(0, "readme.network"))
    mv.save_network(folder / "net.npz", net)
    tensors = {f"fc{i}.weight": w.astype(np.float32) for i, w in enumerate(net.weights, 1)}
    tensors["fc1.bias"] = np.zeros(32, dtype=np.float32)
    if "model.safetensors" in argv:
        from safetensors.numpy import save_file

        save_file(tensors, str(folder / "model.safetensors"))
    if "cnn.npz" in argv:
        from mbp_verify.engine import sample_conv_network, save_conv_network

        save_conv_network(folder / "cnn.npz", sample_conv_network((3, 8, 8), [8, 8], seed=0, dense=[10], stride=[1, 2]))
    if "weights/*.safetensors" in argv:
        from safetensors.numpy import save_file

        (folder / "weights").mkdir(exist_ok=True)
        for name, scale in (("a", 1.0), ("b", 0.5)):
            save_file(
                {k: v * np.float32(scale) for k, v in tensors.items()}, str(folder / "weights" / f"{name}.safetensors")
            )
    if any(name.endswith(".pt") for name in argv):
        torch = pytest.importorskip("torch")
        rng = mv.rng_for(0, "readme.init")
        for name in ("trained.pt", "init.pt"):
            state = {
                key: torch.from_numpy(value * (1.0 if name == "trained.pt" else rng.uniform(0.5, 1.5)))
                for key, value in tensors.items()
            }
            torch.save(state, folder / name)


def _run(argv: list[str], folder: Path, capsys, monkeypatch) -> tuple[int, str, str]:
    if argv[0] in SUBPROCESS:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [sys.executable, "-m", "mbp_verify", *argv],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return done.returncode, done.stdout, done.stderr
    monkeypatch.chdir(folder)
    try:
        code = main(argv)
    except SystemExit as exc:  # --help
        code = exc.code
    out = capsys.readouterr()
    return int(code), out.out, out.err


def _check_install(tokens: list[str]) -> None:
    assert tokens[:4] == ["python", "-m", "pip", "install"], tokens
    target = tokens[tokens.index("-e") + 1]
    match = re.fullmatch(r"\.(?:\[([a-z,]+)\])?", target)
    assert match, f"install target {target!r} is not this checkout"
    extras = set(filter(None, (match.group(1) or "").split(",")))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert extras <= set(pyproject["project"]["optional-dependencies"]), extras
    assert pyproject["project"]["scripts"]["mbp-verify"] == "mbp_verify.cli:main"


def _ci_test_command() -> list[str]:
    """The line of .ci/run that installs and runs the tests, without pip's output-only flags."""
    (line,) = [line for line in CI_SCRIPT.read_text().splitlines() if "pytest" in line and "pip install" in line]
    return [t for t in shlex.split(line) if t not in ("--quiet", "-q", "--disable-pip-version-check")]


COMMANDS = readme_commands()


def test_readme_is_short_and_has_commands():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_README_LINES
    assert {c.split()[1] for c in COMMANDS if c.startswith("mbp-verify ") and not c.endswith("--help")} >= {
        "run",
        "check-pruner",
        "theorem",
        "audit",
        "bound",
        "lipschitz",
    }


def test_parse_only_list_names_readme_commands():
    segments = {shlex.join(tokens) for command in COMMANDS for tokens in _segments(command)}
    assert set(PARSE_ONLY) <= segments, set(PARSE_ONLY) - segments


def test_ci_runs_the_readme_test_command():
    tests = [c for c in COMMANDS if "pytest" in c]
    assert tests and all(shlex.split(c) == _ci_test_command() for c in tests), (tests, _ci_test_command())


@pytest.mark.parametrize(
    "command", [pytest.param(c, marks=[pytest.mark.torch] if re.search(r"\.pt\b", c) else [], id=c) for c in COMMANDS]
)
def test_readme_command_runs_as_written(command, tmp_path, capsys, monkeypatch):
    for tokens in _segments(command):
        if tokens[:3] == ["python", "-m", "pip"]:
            _check_install(tokens)
        elif tokens[:3] == ["python", "-m", "pytest"]:
            continue  # the CI command: test_ci_runs_the_readme_test_command
        else:
            assert tokens[0] == "mbp-verify", f"unknown command in README.md: {command}"
            argv = tokens[1:]
            _parse(argv, capsys)
            if shlex.join(tokens) in PARSE_ONLY:
                continue
            _write_inputs(tmp_path, argv)
            code, out, err = _run(argv, tmp_path, capsys, monkeypatch)
            assert code == 0, f"{command} exited {code}:\n{out}\n{err}"
            assert "Traceback" not in err and out.strip()
            if "--json" in argv:
                document = json.loads((tmp_path / argv[argv.index("--json") + 1]).read_text())
                assert document["schema"] == f"mbp-verify/{argv[0]}" and document["schema_version"] == 1


GUIDE_PAGES = [
    *sorted((ROOT / "docs" / "guide").glob("*.md")),
    ROOT / "docs" / "benchmarks.md",
    ROOT / "docs" / "theorem-findings.md",
]


@pytest.mark.parametrize("path", GUIDE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_guide_commands_parse(path, capsys, pytestconfig):
    """The guides' commands are parse-checked like the README's: mbp-verify options, the pytest
    plugin's options (registered in this very session), benchmark scripts that exist."""
    for command in readme_commands(path):
        for tokens in _segments(command):
            if tokens[0] == "mbp-verify":
                _parse(tokens[1:], capsys)
            elif tokens[:3] == ["python", "-m", "pytest"]:
                for option in (t for t in tokens[3:] if t.startswith("--")):
                    pytestconfig.getoption(option)  # raises for an option the plugin does not define
            else:
                assert tokens[0] == "python" and (ROOT / tokens[1]).is_file(), f"{path.name}: unknown command {command}"


@pytest.mark.parametrize("path", [README, ROOT / "docs" / "guide" / "library.md"], ids=lambda p: p.name)
def test_python_examples_run(path, tmp_path, monkeypatch):
    """Every Python block of the README (the library guide's first), in order, in one folder."""
    monkeypatch.chdir(tmp_path)
    blocks = _blocks(path, "python")
    for block in blocks if path == README else blocks[:1]:
        exec(compile(block, str(path), "exec"), {})
    if path == README:
        assert load_any_network(tmp_path / "cnn.npz").input_shape == (3, 8, 8)


def test_library_guide_comments_state_the_results():
    """The values the library guide's example states in its comments."""
    net = mv.sample_network([64, 256, 256, 10], mv.rng_for(0, "example"), activation="relu")
    assert mv.prune_network(net, alpha=0.3).counts == (891, 2352, 243)
    assert mv.magnitude_mask(np.array([3.0, -1.0, 1.0, 2.0]), 2).tolist() == [True, False, False, True]
    assert mv.theorem_prune_count(2**25, 0.2) == 2**20 == 1048576


def _links(path: Path) -> list[tuple[str, str]]:
    """(target, anchor) of every relative link outside code blocks."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [(t, a) for t, a in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text) if "://" not in t]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped, spaces to '-'."""
    headings = re.findall(
        r"^#+ (.+)$", re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M), flags=re.M
    )
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize(
    "path", [README, *sorted((ROOT / "docs").rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_relative_links_resolve(path):
    for link, anchor in _links(path):
        target = (path.parent / link).resolve() if link else path
        assert target.exists(), f"{path.relative_to(ROOT)} links to missing {link}"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{path.relative_to(ROOT)}: no heading #{anchor} in {link or path.name}"
