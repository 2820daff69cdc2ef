"""`mimicjax train`, `mimicjax distill`, `mimicjax sweep`, `mimicjax plot`: the GenMimic training commands."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a tracking policy (teacher) with PPO",
        description="Train a robot tracking policy with PPO (the robot: env.robot in the config). Re-running with --resume continues the run in "
        "RUN_DIR from its latest checkpoint up to train.iterations.",
    )
    _add_run_arguments(train)
    train.set_defaults(func=train_command)

    distill = subparsers.add_parser(
        "distill",
        help="distil a trained teacher into the deployable student with DAgger",
        description="Distil the teacher in --teacher-dir into a student (proprioception history + goal "
        "keypoints) with DAgger; the student run goes to --run-dir.",
    )
    distill.add_argument("--teacher-dir", required=True, metavar="DIR", help="run directory of a trained teacher")
    _add_run_arguments(distill, config_required=False)
    distill.set_defaults(func=_lazy("mimicjax.train.distill", "distill_command"))

    sweep = subparsers.add_parser(
        "sweep",
        help="run a grid of experiments (reward weights, seeds), one run directory each",
        description="Run every point of the grid defined by a sweep file (experiments/sweeps/NAME.py).",
    )
    sweep.add_argument("sweep_file", metavar="SWEEP.py")
    sweep.add_argument("--out", default=None, metavar="DIR", help="parent of the run directories (default runs/sweeps/NAME)")
    sweep.add_argument("--motions", default=None, metavar="LIB.npz")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sweep.add_argument(
        "--sequential", action="store_true",
        help="train the points one after another even where they could share one vmapped program "
        "(by default points that differ only in seeds, reward weights/parameters and PPO coefficients do)",
    )
    sweep.set_defaults(func=_lazy("mimicjax.train.sweep", "sweep_command"))

    ablation = subparsers.add_parser(
        "ablation",
        help="GenMimic's ablations: train the variants x seeds, distil, benchmark on perturbed motion, report with CIs",
        description="Train every variant x seed of an ablation file (experiments/ablations/NAME.py; one vmapped program "
        "where the variants allow), distil the students it names, benchmark every policy on motion perturbed like "
        "generated-video motion, and report success and MPJPE per method and level with 95%% confidence intervals "
        "over seeds. Rerunning continues where it stopped.",
    )
    ablation.add_argument("ablation_file", metavar="ABLATION.py")
    ablation.add_argument("--out", required=True, metavar="DIR", help="teachers/, students/, robustness/ and the report")
    ablation.add_argument("--motions", default=None, metavar="LIB.npz", help="the training motion library")
    ablation.add_argument("--benchmark-motions", nargs="+", default=None, metavar="SMPL",
                          help="SMPL files to benchmark on instead of the file's BENCHMARK motions")
    ablation.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ablation.add_argument("--report-only", action="store_true", help="only rebuild the report from the results in DIR")
    ablation.set_defaults(func=_lazy("mimicjax.train.ablation", "ablation_command"))

    plot = subparsers.add_parser(
        "plot",
        help="learning curves of runs as a PNG (reward, episode length, terminations, keypoint error, eval success)",
        description="Plot the learning curves of one or more train/distill runs against env steps and wall-clock "
        "time, from their scalars.jsonl (and the eval JSONs of evaluated checkpoints).",
    )
    plot.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    plot.add_argument("--out", required=True, metavar="OUT.png")
    plot.add_argument("--smooth", type=int, default=20, metavar="N", help="moving average over N iterations (default 20)")
    plot.add_argument("--labels", nargs="+", default=None, metavar="NAME", help="one label per run (default: folder names)")
    plot.set_defaults(func=plot_command)


def _add_run_arguments(parser: argparse.ArgumentParser, config_required: bool = True) -> None:
    parser.add_argument(
        "--config", required=config_required, metavar="EXPERIMENT.py", help="experiment file defining CONFIG"
    )
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="where logs and checkpoints go")
    parser.add_argument("--motions", default=None, metavar="LIB.npz", help="motion library (default: the config's)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field, e.g. --set ppo.learning_rate=3e-4 (repeatable)",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --run-dir")


def plot_command(args) -> int:
    from mimicjax.errors import ReportedError
    from mimicjax.train.plots import plot_runs

    if args.labels and len(args.labels) != len(args.run_dirs):
        raise ReportedError(f"--labels gives {len(args.labels)} names for {len(args.run_dirs)} runs")
    if args.smooth < 1:
        raise ReportedError(f"--smooth must be at least 1, got {args.smooth}")
    print(f"wrote {plot_runs(args.run_dirs, args.out, smooth=args.smooth, labels=args.labels)}")
    return 0


def _lazy(module_name: str, function_name: str):
    def run(args):
        import importlib

        return getattr(importlib.import_module(module_name), function_name)(args)

    return run


def resolve_config(args: argparse.Namespace):
    """The experiment config of `args.config` with `--set` overrides and `--motions` applied."""
    import dataclasses

    from mimicjax import config as config_lib

    config = config_lib.load_experiment(args.config)
    config = config_lib.apply_overrides(config, args.overrides)
    if args.motions:
        config = dataclasses.replace(config, motions=dataclasses.replace(config.motions, library=args.motions))
    return config


def train_command(args: argparse.Namespace) -> int:
    from mimicjax import distributed
    from mimicjax.train import loop

    distributed.initialize_multihost()  # a no-op unless launched as one process of several
    config = resolve_config(args)
    run = loop.train(config, args.run_dir, resume=args.resume)
    print(f"trained {run.config.name}: {run.env_steps} env steps; logs and checkpoints in {args.run_dir}")
    return 0
