"""`mimicjax bench NAME ...`: every benchmark prints one JSON object and can write it to a file.

A benchmark module exposes `add_arguments(parser)` and `run(args) -> dict`, and imports nothing heavy at
module level. Register it in `BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = {
    "sim": ("mimicjax.bench.sim", "MJX robot physics steps/s against MuJoCo's C engine"),
    "train": ("mimicjax.bench.train", "tracking-env steps/s against raw MJX physics, PPO update and iteration time"),
    "retarget": ("mimicjax.retarget.bench", "batched human-to-robot retargeting frames/s (compile time apart)"),
    "translate": ("mimicjax.translate.bench", "Wan transformer forward tokens/s, Flax against diffusers (+ VAE frames/s)"),
    "finetune": ("mimicjax.translate.bench_finetune", "one in-context LoRA training step and one sampling step of the Wan translator, random weights"),
    "h2rep": ("mimicjax.translate.h2rep.bench", "H2Rep removal and cue drawing frames/s at 480p, and quality on rendered clips"),
    "robustness": ("mimicjax.eval.robustness", "policies on motion perturbed like generated-video motion, levels 0-5"),
}


def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="measure a hot path; prints JSON")
    bench_sub = bench.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    bench_sub.required = True
    for name, (module_name, help_text) in BENCHMARKS.items():
        parser = bench_sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--json", metavar="OUT", default=None, help="also write the JSON here")
        importlib.import_module(module_name).add_arguments(parser)
        parser.set_defaults(func=_runner(module_name))


def _runner(module_name: str):
    def run(args: argparse.Namespace) -> int:
        from mimicjax.io_utils import atomic_write_text, check_writable_file

        check_writable_file(args.json, "--json")
        result = importlib.import_module(module_name).run(args)
        text = json.dumps(result, indent=2, sort_keys=True)
        print(text)
        if args.json:
            atomic_write_text(args.json, text + "\n")
            print(f"wrote {args.json}", file=sys.stderr)
        return 0

    return run
