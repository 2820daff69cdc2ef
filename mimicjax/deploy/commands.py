"""`mimicjax export`: a trained policy on its own, small enough to ship (see `mimicjax.deploy`)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's policy alone (parameters + normaliser, a few MB) as a run folder eval and distill read",
        description="Export the policy of one checkpoint of a `mimicjax train` or `mimicjax distill` run: its "
        "network parameters and observation normaliser with the run's config, as a small run folder that "
        "`mimicjax eval`, `mimicjax distill --teacher-dir` and the demo read like the run itself (no optimiser "
        "or rollout state, so it cannot be resumed).",
    )
    parser.add_argument("--run-dir", required=True, metavar="DIR", help="a `mimicjax train` or `mimicjax distill` run")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (e.g. data/policies/NAME)")
    parser.add_argument("--checkpoint", type=int, default=None, metavar="N", help="checkpoint step (default: latest)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    from mimicjax.deploy.export import TRAINED_ON_KEY, export_policy
    from mimicjax.train.checkpoint import read_metadata
    from mimicjax.train.distill import POLICY_KEY, checkpoints_dir, read_run_config

    out = export_policy(args.run_dir, args.out, args.checkpoint, overwrite=args.overwrite)
    meta = read_metadata(checkpoints_dir(out))
    size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    print(f"exported the {meta[POLICY_KEY]} of {args.run_dir} (checkpoint {meta['exported_from']['step']}) to {out} "
          f"({size_mb:.1f} MB)")
    if not read_run_config(out).motions.library:
        print(f"it was trained on {meta[TRAINED_ON_KEY]}; evaluate it with `mimicjax eval --run-dir {out} --motions LIB.npz` "
              f"(without --motions eval uses the sample clips)")
    return 0
