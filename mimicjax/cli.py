"""The `mimicjax` command line.

Each command group lives next to the code it drives and exposes `register(subparsers)`; the group
modules import only argparse at module level so `mimicjax --help` stays instant. Heavy imports (JAX,
MuJoCo) happen inside the command functions.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from mimicjax.errors import ReportedError

# Modules that add sub-commands. Order is the order shown in --help.
COMMAND_MODULES = (
    "mimicjax.demo",
    "mimicjax.retarget.commands",
    "mimicjax.motion.commands",
    "mimicjax.train.commands",
    "mimicjax.eval.commands",
    "mimicjax.deploy.commands",
    "mimicjax.bench.commands",
    "mimicjax.translate.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimicjax",
        description="Humanoid robot behaviour from human videos, in JAX.",
    )
    from mimicjax import __version__

    parser.add_argument("--version", action="version", version=f"mimicjax {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except BrokenPipeError:
        # The reader of our output went away (`mimicjax motions info | head -1`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ReportedError, ValueError, OSError) as error:
        # Bad input (or an unwritable path, a full disk) is the user's to fix: say what and where, without a
        # traceback. OSError covers missing files, permissions and folders given where a file belongs.
        print(f"mimicjax {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mimicjax {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
