"""Robots: `get(NAME)` returns the `Robot` that sim, env, motion library, retargeting and eval take.

Each sub-package (`g1/`, `h1/`, ...) declares its models in a `ROBOTS` dict; adding a robot means adding
a package here, nothing else. Names are what users type: `--robot g1_23dof`, `env.robot=h1`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path

from mimicjax.robots.base import Robot, RobotDefinition

DEFAULT_ROBOT = "g1_29dof"


@functools.lru_cache(maxsize=None)
def definitions() -> dict[str, RobotDefinition]:
    """Every robot the installed packages declare, by name."""
    found: dict[str, RobotDefinition] = {}
    for module in pkgutil.iter_modules(__path__):
        if not module.ispkg:
            continue
        package = importlib.import_module(f"{__name__}.{module.name}")
        for name, definition in getattr(package, "ROBOTS", {}).items():
            if name in found:
                raise ValueError(f"robot {name!r} is declared twice (robots/{module.name} and another package)")
            found[name] = definition
    return found


def names() -> tuple[str, ...]:
    return tuple(definitions())


def definition(name: str) -> RobotDefinition:
    known = definitions()
    if name not in known:
        hint = f"; did you mean 'g1_{name}'?" if f"g1_{name}" in known else ""
        raise ValueError(f"unknown robot {name!r}; choose one of {', '.join(known)}{hint}")
    return known[name]


@functools.lru_cache(maxsize=None)
def _get(name: str, mjcf: str | None) -> Robot:
    return Robot.from_definition(definition(name), mjcf)


def get(name: str, mjcf: str | Path | None = None) -> Robot:
    """The robot `name`, built once; `mjcf` swaps in another model file of it (physics and kinematics)."""
    return _get(name, None if mjcf is None else str(Path(mjcf).resolve()))


def add_robot_argument(parser, default: str | None = DEFAULT_ROBOT, help: str = "the robot") -> None:
    """`--robot NAME` on a command line, choices from the installed robots."""
    parser.add_argument("--robot", default=default, choices=names(), help=f"{help} (default: {default})")


__all__ = ["DEFAULT_ROBOT", "add_robot_argument", "Robot", "RobotDefinition", "definition", "definitions", "get", "names"]
