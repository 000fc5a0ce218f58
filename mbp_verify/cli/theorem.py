"""`mbp-verify theorem`: Monte Carlo check of the paper's pruning guarantees, in parallel.

`--arch fcn` (default) tests fully connected networks (Theorem 1: MBP, Theorem 2: random
pruning), `--arch cnn` convolutional ones with the channel count as the width (Theorem 3:
random pruning; MBP on CNNs is tested beyond the theorems, an advisory verdict)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from .._validation import validate_integer
from ..errors import InputError
from ..reports.folders import claim_run_folder, mark_latest, new_run_folder
from ..seeding import DEFAULT_ROOT_SEED
from ..theorem import (
    ARCHITECTURES,
    EFFORTS,
    PRUNING_RULES,
    SHAPES,
    WEIGHT_LAWS,
    SweepConfig,
    build_payload,
    format_tables,
    run_sweep,
    scaling_audit,
    write_theorem_folder,
)
from ..theorem.checkpoint import Checkpoint, read_checkpoint
from ..theorem.cnn import CNN_PADDINGS, CONV_DEFAULTS
from ..theorem.cost import calibrate, estimate_seconds, format_seconds
from ..theorem.executors import EXECUTORS, SCHEDULER_VARIABLE, DaskPool, make_executor
from ..theorem.progress import SweepProgress
from ._common import (
    EXIT_FAILED,
    EXIT_OK,
    add_common_arguments,
    parse_int_list,
    progress,
    split_list,
    worker_count,
    write_json_output,
)
from ._memory import bracket_bytes, check_memory, dense_bracket_bytes, sequential_design_bytes

__all__ = ["register", "handle", "DEFAULTS", "CNN_DEFAULTS"]

DEFAULTS = {
    "alpha": "0.2,0.3",
    "eps": 0.2,
    "delta": 0.1,
    "widths": "64,128,256,512,1024",
    "depth": 3,
    "trials": 140,
    "looks": 2,
    "confidence": 0.99,
    "activation": "relu",
    "weights": "uniform",
    "pruning": "magnitude",
    "shape": "square",
    "scale": 1.0,
    "effort": "fast",
    "random_trials": 20,
}

# --arch cnn: what differs from DEFAULTS (the conv settings default as in theorem.cnn.CONV_DEFAULTS)
CNN_DEFAULTS = {
    "alpha": "0.3",
    "eps": 1.5,
    "widths": "8,16,32,64",
    "pruning": "random,magnitude",
}
_CONV_OPTIONS = ("kernel", "image", "in_channels", "padding")

_DESCRIPTION = """\
Sample F under hypothesis (iii) at each width, prune the floor(D_l^(1-alpha)) smallest weights
of every layer, bracket sup ||f - F|| over the unit ball, and decide each trial: CERTIFIED
(upper bound <= eps), VIOLATED (a replayed witness exceeds eps) or UNKNOWN. Per (alpha, width):
guarantee test (one-sided Clopper-Pearson upper bound on P(not certified) < delta -> pass) and
refutation test (lower bound on P(violated) > delta -> fail), group-sequential with exact error
rates, Holm across all cells. Exit 0 when the guarantee is established at every cell, 1 when it
is refuted or not established somewhere, 2 on bad input.

Defaults: widths 64..1024, depth 3, alpha 0.2 and 0.3, eps 0.2, delta 0.1, confidence 0.99,
up to 140 trials per cell looked at after 70 and 140. Why: at d = 64, alpha = 0.2 the certified
upper bound on MBP's error is about 0.14 (at most 0.15 in 80 trials), while random pruning of
the same count has witnessed errors of about 0.22 (bracket about [0.22, 0.72]): eps = 0.2
separates the two at the smallest width, so the guarantee is tested at every width. 70 trials
without a failure establish P(not eps-close) < 0.1 at the first of two looks (per-cell level
0.01/10; 69 is the fewest that can); the second look, at 140, still passes with up to 3
uncertified trials. Random pruning of the same count is bracketed on the networks of the first
20 trials of each cell, for the comparison (its error falls like d^-alpha, MBP's like d^-3alpha).
Most of the cost is at d = 1024 (about 2 s per bracket).

--arch cnn: networks of 3x3 convolutions on 8x8 images, every layer `width` channels (input
and output channels too, unless --in-channels fixes them), widths 8..64 channels, alpha 0.3,
and two families on the same networks: random pruning (Theorem 3; decides the exit code) and
MBP (no theorem: an advisory verdict). eps = 1.5 because the conv bracket's certified upper
end of random pruning's error is up to about 1.35 at 8 channels (its witnessed lower end about
0.2): the guarantee is established at every width and the slopes are fitted over both ends."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "theorem",
        help="statistical test of the pruning guarantees (Theorem 1: MBP on FCNs; 2, 3: random pruning on FCNs, CNNs)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--alpha", default=None, help="alpha, or a comma-separated list (default 0.2,0.3)")
    parser.add_argument("--eps", type=float, default=None, help="closeness eps (default 0.2)")
    parser.add_argument("--delta", type=float, default=None, help="allowed failure probability (default 0.1)")
    parser.add_argument("--widths", default=None, help="minimum hidden widths d (default 64,...,1024)")
    parser.add_argument("--depth", type=int, default=None, help="number of weight layers L (default 3)")
    parser.add_argument("--trials", type=int, default=None, help="maximum trials per cell (default 140)")
    parser.add_argument("--looks", type=int, default=None, help="sequential looks, equally spaced (default 2)")
    parser.add_argument(
        "--confidence", type=float, default=None, help="family-wise confidence of the verdicts (default 0.99)"
    )
    parser.add_argument("--activation", default=None, help="hidden activation, e.g. relu, tanh, 'leaky_relu(a=0.2)'")
    parser.add_argument(
        "--weights",
        default=None,
        choices=WEIGHT_LAWS,
        help="uniform = hypothesis (iii); gaussian (same variance); cauchy (heavy tails, violates (iii))",
    )
    parser.add_argument(
        "--pruning",
        default=None,
        help="a rule or a comma-separated list, one family of cells each, on the same networks: "
        "magnitude = MBP (Theorem 1 on fcn; advisory on cnn); random = a uniform subset of the same count "
        "(Theorem 2 on fcn, 3 on cnn); largest (negative control); review (keep only D^-alpha, the review's "
        "reading) (default magnitude; random,magnitude with --arch cnn)",
    )
    parser.add_argument(
        "--arch",
        default=None,
        choices=ARCHITECTURES,
        help="fcn = fully connected (default); cnn = convolutional, --widths are the hidden layers' channels",
    )
    parser.add_argument("--kernel", type=int, default=None, help="cnn: square kernel size (default 3)")
    parser.add_argument("--image", type=int, default=None, help="cnn: input images are IMAGE x IMAGE (default 8)")
    parser.add_argument(
        "--in-channels",
        type=int,
        default=None,
        help="cnn: input channels, also the output channels (default: the width, every layer square)",
    )
    parser.add_argument("--padding", default=None, choices=CNN_PADDINGS, help="cnn: padding (default zeros)")
    parser.add_argument("--shape", default=None, choices=SHAPES, help="width profile (default square)")
    parser.add_argument("--scale", type=float, default=None, help="weight scale K of hypothesis (iii) (default 1)")
    parser.add_argument("--effort", default=None, choices=tuple(EFFORTS), help="bracket effort (default fast)")
    parser.add_argument(
        "--random-trials",
        type=int,
        default=None,
        help="also bracket random pruning of the same count on the networks of the first N trials "
        "of each cell, for the comparison (default 20; 0 = off)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: number of CPUs)")
    parser.add_argument("--reports-dir", type=Path, default=None, help="root folder for reports (default reports/)")
    parser.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS,
        help="local = a process pool on this machine (default); dask = a Dask cluster "
        "(a LocalCluster of --workers processes, or the one at --scheduler)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help=f"address of an existing Dask scheduler (default ${SCHEDULER_VARIABLE}, else a LocalCluster)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_FOLDER",
        help="finish an interrupted run: only its missing trials run; options given must match its configuration",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle, seed=_DefaultSeed(DEFAULT_ROOT_SEED))


class _DefaultSeed(int):
    """The root seed when --seed is not given (an int, so the common checks still apply)."""


# argparse destination -> SweepConfig field, for the options that make up the configuration
_CONFIG_OPTIONS = {
    "alpha": "alphas",
    "widths": "widths",
    "eps": "eps",
    "delta": "delta",
    "depth": "depth",
    "trials": "trials",
    "looks": "looks",
    "confidence": "confidence",
    "activation": "activation",
    "weights": "weights",
    "pruning": "pruning",
    "shape": "shape",
    "scale": "scale",
    "effort": "effort",
    "random_trials": "random_trials",
    "seed": "seed",
    "arch": "arch",
    "kernel": "kernel",
    "image": "image",
    "in_channels": "in_channels",
    "padding": "padding",
}


def _alphas(text: str) -> list[float]:
    items = split_list(text, "--alpha")
    try:
        return [float(t) for t in items]
    except ValueError:
        raise InputError(f"--alpha must be a number or a comma-separated list, got {text!r}") from None


def _rules(text: str) -> str:
    items = split_list(text, "--pruning")
    unknown = [t for t in items if t not in PRUNING_RULES]
    if unknown:
        raise InputError(
            f"--pruning: invalid choice {unknown[0]!r} "
            f"(choose from {', '.join(PRUNING_RULES)}, or a comma-separated list)"
        )
    if len(set(items)) != len(items):
        raise InputError(f"--pruning lists a rule twice: {text!r}")
    return ",".join(items)


def _given(args: argparse.Namespace) -> dict:
    """The configuration settings given on the command line, as `SweepConfig.to_dict()` spells them."""
    given = {}
    for option, key in _CONFIG_OPTIONS.items():
        value = getattr(args, option)
        if value is None or isinstance(value, _DefaultSeed):
            continue
        given[key] = (
            _alphas(value)
            if option == "alpha"
            else sorted(parse_int_list(value, "--widths"))
            if option == "widths"
            else _rules(value)
            if option == "pruning"
            else value
        )
    if given.get("arch", "fcn") != "cnn":
        conv = [f"--{name.replace('_', '-')}" for name in _CONV_OPTIONS if name in given]
        if conv and args.resume is None:
            verb = "applies" if len(conv) == 1 else "apply"
            raise InputError(f"{', '.join(conv)} {verb} to --arch cnn only")
    return given


def _settings(args: argparse.Namespace) -> dict:
    """The run's configuration: the defaults (or the resumed run's) overridden by the options given.

    On --resume, an option that differs from the stored configuration is refused, naming the keys."""
    given = _given(args)
    if args.resume is None:
        defaults = {**DEFAULTS, **(CNN_DEFAULTS if given.get("arch") == "cnn" else {})}
        return {
            **defaults,
            "alphas": _alphas(defaults["alpha"]),
            "widths": parse_int_list(defaults["widths"], "--widths"),
            "seed": int(args.seed),
            **given,
        }
    stored, _ = read_checkpoint(args.resume)
    differing = [key for key, value in given.items() if stored.get(key) != value]
    if differing:
        raise InputError(
            f"cannot resume {args.resume}: the options given differ from its configuration in "
            f"{', '.join(differing)} (stored: {', '.join(f'{k}={stored.get(k)!r}' for k in differing)})"
        )
    return stored


def _check_sizes(settings: dict, workers: int) -> str:
    """Estimate peak memory from the sizes alone (before the design or any network is built); the progress line."""
    layers, width = validate_integer(settings["depth"], "--depth", 2), max(settings["widths"])
    validate_integer(settings["trials"], "--trials", 1)
    validate_integer(settings["looks"], "--looks", 1)
    if settings.get("arch") == "cnn":  # kernels and one feature map per layer (the conv operators are never dense)
        kernel, image = (validate_integer(settings.get(k, CONV_DEFAULTS[k]), f"--{k}", 1) for k in ("kernel", "image"))
        entries = layers * width * (width * kernel * kernel + image * image)
        bracket = bracket_bytes(entries, layers)
    else:
        square = settings["shape"] == "square"
        entries = layers * width * width * (1 if square else 4)  # rectangular: widths up to 2d
        bracket = dense_bracket_bytes(entries, layers, width if square else 2 * width)
    cells = len(settings["alphas"]) * len(settings["widths"])
    needed = workers * bracket + sequential_design_bytes(settings["trials"], settings["looks"])
    return check_memory(
        "theorem",
        f"{cells} cells x up to {settings['trials']} trials, {settings['looks']} looks, "
        f"largest network {layers} layers of width {width} ({entries:.3g} weights), {workers} workers",
        needed,
    )


def _config(settings: dict) -> SweepConfig:
    names = {f.name for f in fields(SweepConfig)}
    unknown = set(settings) - names - {"alpha"}
    if unknown:
        raise InputError(f"unknown configuration keys {sorted(unknown)}")
    values = {k: v for k, v in settings.items() if k in names}
    return SweepConfig(**{**values, "alphas": tuple(values["alphas"]), "widths": tuple(values["widths"])})


def handle(args: argparse.Namespace) -> int:
    workers = worker_count(args.workers)
    settings = _settings(args)
    estimate = _check_sizes(settings, workers)
    config = _config(settings)
    executor = make_executor(args.executor, workers, args.scheduler)
    if args.resume is not None and args.reports_dir is not None:
        raise InputError("--resume writes into the run folder it is given; drop --reports-dir")
    progress(estimate)
    design = config.design()
    if design.min_trials_to_pass is None:
        progress(
            f"theorem: warning: {config.trials} trials per cell cannot establish P(not eps-close) < "
            f"{config.delta:g} at per-cell level {design.guarantee.level:.3g}; raise --trials"
        )
    if args.resume is not None:
        folder = args.resume
    else:  # a run started in the same second with the same seed gets the next name, never this one
        folder = claim_run_folder(new_run_folder("theorem", config.seed, args.reports_dir))
    with executor as pool, Checkpoint(folder, config.to_dict(), resume=args.resume is not None) as checkpoint:
        if isinstance(pool, DaskPool):
            progress(f"theorem: Dask dashboard {pool.dashboard_link}")
        cost = calibrate(config, pool)
        slots = pool.slots
        progress(
            f"theorem: cost estimate: up to {format_seconds(estimate_seconds(config, cost, slots))} "
            f"({config.trials} trials x {len(config.cells())} cells / {slots} workers; one trial "
            f"{cost.seconds_per_trial(max(config.widths)):.3g} s at d = {max(config.widths)}, calibrated at "
            f"d = {cost.width}, time ~ d^{cost.exponent:.2f})"
        )
        restored = f", {len(checkpoint.done)} trials restored from {folder}" if checkpoint.done else ""
        progress(
            f"theorem: {design.family_size} cells, up to {config.trials} trials each "
            f"(looks at {list(design.looks)}), "
            f"{slots} workers ({args.executor}){restored}; checkpoint {checkpoint.path}"
        )
        display = SweepProgress(len(design.looks), slots, cost.task_seconds)
        pool.observer = display
        try:
            result = run_sweep(config, pool=pool, checkpoint=checkpoint, on_progress=display)
        except KeyboardInterrupt:
            display.close()
            progress(f"theorem: interrupted; finish with: mbp-verify theorem --resume {folder}")
            raise
        display.close()
    audit = scaling_audit(result)
    exit_code = EXIT_OK if result.holds else EXIT_FAILED
    payload = build_payload(result, audit, exit_code, cost)
    folder = write_theorem_folder(folder, result, audit, payload)
    mark_latest(folder)
    print(format_tables(payload))
    print(f"report: {folder}")
    write_json_output(args.json, "theorem", payload)
    return exit_code
