"""Experiment configuration: frozen dataclasses, named experiments in `experiments/`, CLI overrides.

An experiment file is a Python file that defines `CONFIG`, an `ExperimentConfig`:

    # experiments/smoke.py
    from mimicjax.config import ExperimentConfig, TrainConfig
    CONFIG = ExperimentConfig(name="smoke", train=TrainConfig(num_envs=8, iterations=2))

Every field can be overridden from the command line with `--set section.field=value`; values are
parsed as Python literals (numbers, booleans, tuples, strings) and checked against the field's type.
The resolved configuration is saved next to every run and inside every checkpoint.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

from mimicjax.envs.tracking import TrackingConfig
from mimicjax.rl.dagger import DAggerConfig
from mimicjax.rl.networks import NetworkConfig
from mimicjax.rl.ppo import PPOConfig


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message says how to fix it."""


def check_counts(config, section: str, names: tuple[str, ...]) -> None:
    """Each named field of `config` is an int >= 1 (not a bool); errors name `section.field`."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{section}.{name} must be a whole number >= 1, got {value!r}")


def refuse_non_finite(config) -> None:
    """A ConfigError for the first non-finite number in a config: it would be saved as text and poison the
    run's config, and no field has a use for one (e.g. `--set ppo.learning_rate=1e999`)."""
    for path, value in non_finite_fields(config):
        raise ConfigError(f"{path}={value!r} is not a finite number; give a finite value")


def non_finite_fields(node, prefix: str = ""):
    """(dotted path, value) of every non-finite float in a (nested) config dataclass, tuples included."""
    def walk(value, path):
        if dataclasses.is_dataclass(value):
            for field in dataclasses.fields(value):
                yield from walk(getattr(value, field.name), f"{path}.{field.name}" if path else field.name)
        elif isinstance(value, (tuple, list)):
            for item in value:
                yield from walk(item, path)
        elif isinstance(value, float) and not math.isfinite(value):
            yield path, value

    yield from walk(node, prefix)


@dataclasses.dataclass(frozen=True)
class MotionsConfig:
    """Where the reference motions come from."""

    # A motion library file (`mimicjax retarget ... --out LIB.npz`). Empty: the sample library shipped
    # in data/ for the robot.
    library: str = ""
    mirror: bool = True  # add mirrored copies of every clip (doubles the data for free)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    num_envs: int = 4096
    rollout_steps: int = 24  # control steps per env per iteration
    iterations: int = 10_000
    checkpoint_every: int = 100
    keep_checkpoints: int = 5
    log_every: int = 1
    # Stop (with a checkpoint) once the iterations have taken this many minutes of wall time; 0: no limit.
    # `--resume` continues such a run.
    max_minutes: float = 0.0

    def __post_init__(self):
        check_counts(self, "train", ("num_envs", "rollout_steps", "iterations", "checkpoint_every",
                                     "keep_checkpoints", "log_every"))
        if not (self.max_minutes >= 0 and math.isfinite(self.max_minutes)):
            raise ConfigError(f"train.max_minutes must be a finite number of minutes >= 0 (0: no limit), got {self.max_minutes}")


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """Teacher -> student distillation with DAgger."""

    iterations: int = 2_000
    rollout_steps: int = 24
    dagger: DAggerConfig = DAggerConfig()
    student_network: NetworkConfig = NetworkConfig()

    def __post_init__(self):
        check_counts(self, "distill", ("iterations", "rollout_steps"))


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    seed: int = 0
    motions: MotionsConfig = MotionsConfig()
    env: TrackingConfig = TrackingConfig()
    network: NetworkConfig = NetworkConfig()
    ppo: PPOConfig = PPOConfig()
    train: TrainConfig = TrainConfig()
    distill: DistillConfig = DistillConfig()

    def __post_init__(self):
        refuse_non_finite(self)


def load_experiment(path: str | Path) -> ExperimentConfig:
    """The `CONFIG` defined by the experiment file at `path`."""
    path = Path(path)
    module = load_python_file(path, "experiment")
    config = getattr(module, "CONFIG", None)
    if not isinstance(config, ExperimentConfig):
        raise ConfigError(f"{path} must define CONFIG = ExperimentConfig(...)")
    return config


def load_python_file(path: Path, kind: str) -> types.ModuleType:
    """Execute a configuration file (experiment, sweep) as a module; errors name the file."""
    if not path.is_file():
        raise ConfigError(f"{kind} file not found: {path}")
    spec = importlib.util.spec_from_file_location(f"mimicjax_{kind}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the file is user code: report where it failed
        raise ConfigError(f"cannot load {kind} {path}: {type(error).__name__}: {error}") from error
    return module


def apply_overrides(config, overrides: list[str] | tuple[str, ...]):
    """`config` with each "dotted.path=value" override applied."""
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} is not of the form section.field=value")
        path, text = override.split("=", 1)
        config = _set_path(config, path.strip().split("."), text.strip(), path.strip())
    return config


def _set_path(node, keys: list[str], text: str, full_path: str):
    if not dataclasses.is_dataclass(node):
        raise ConfigError(f"cannot set {full_path!r}: {type(node).__name__} has no fields")
    fields = {f.name: f for f in dataclasses.fields(node)}
    key = keys[0]
    if key not in fields:
        if full_path in RENAMED_FIELDS:
            raise ConfigError(f"{full_path!r} is now {RENAMED_FIELDS[full_path]}")
        raise ConfigError(
            f"unknown config field {full_path!r}: {type(node).__name__} has {', '.join(sorted(fields))}"
        )
    current = getattr(node, key)
    hint = typing.get_type_hints(type(node)).get(key, type(current))
    if len(keys) > 1 and not dataclasses.is_dataclass(current) and _pair_value_hint(hint) is not None:
        return _replace(node, key, _set_pair(current, hint, keys[1:], text, full_path), full_path)
    if len(keys) > 1:
        return _replace(node, key, _set_path(current, keys[1:], text, full_path), full_path)
    return _replace(node, key, _parse_value(text, hint, full_path), full_path)


def _replace(node, key: str, value, full_path: str):
    try:
        return dataclasses.replace(node, **{key: value})
    except ConfigError:
        raise
    except (ValueError, TypeError) as error:  # the dataclass's own checks
        raise ConfigError(f"{full_path}: {error}") from None


def _pair_value_hint(hint):
    """X when `hint` is a tuple of (str, X) pairs (optionally `| None`): a dict stored as pairs."""
    for option in typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,):
        args = typing.get_args(option)
        if typing.get_origin(option) is tuple and len(args) == 2 and args[1] is Ellipsis:
            item = typing.get_args(args[0])
            if typing.get_origin(args[0]) is tuple and len(item) == 2 and item[0] is str:
                return item[1]
    return None


def _set_pair(current, hint, keys: list[str], text: str, full_path: str):
    """`current` (pairs or None) with the pair named keys[0] set to the parsed `text` (added if new)."""
    if len(keys) != 1:
        raise ConfigError(f"cannot set {full_path!r}: {'.'.join(keys)} is deeper than one key of a mapping")
    pairs = dict(current or ())
    value_hint = _pair_value_hint(hint)
    pairs[keys[0]] = _parse_value(text, value_hint, full_path)
    return tuple(pairs.items())


def as_literal(value):
    """Config form of a parsed value: dicts become tuples of (key, value) pairs, lists tuples, recursively."""
    if isinstance(value, dict):
        return tuple((k, as_literal(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(as_literal(v) for v in value)
    return value


def _parse_value(text: str, hint, full_path: str):
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text  # a bare word is a string
    value = as_literal(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{full_path}={text!r}: not a finite number")
    if list(non_finite_fields(value)):
        raise ConfigError(f"{full_path}={text!r}: holds a number that is not finite")
    if not _matches(value, hint):
        raise ConfigError(
            f"{full_path}={text!r}: expected {_type_name(hint)}, got {_describe(value)}"
        )
    return _coerce(value, hint)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _coerce(value, hint):
    """Ints where the type says float become floats, inside tuples too (so saved configs read back equal)."""
    if hint is float and _is_int(value):
        return float(value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if _matches(value, arg):
                return _coerce(value, arg)
    if origin is tuple and isinstance(value, tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        if len(args) == len(value):
            return tuple(_coerce(v, a) for v, a in zip(value, args))
    return value


def _describe(value) -> str:
    if isinstance(value, tuple):
        return f"tuple {value!r}"
    return type(value).__name__


def _matches(value, hint) -> bool:
    """Does `value` fit the type hint, element by element (tuple[float, ...], tuple[tuple[str, float], ...])?"""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is tuple or hint is tuple:
        if not isinstance(value, tuple):
            return False
        args = typing.get_args(hint)
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:  # True is an int to Python, never a count to a user
        return _is_int(value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _type_name(hint) -> str:
    if typing.get_args(hint):  # tuple[float, ...] and the like: say what goes inside
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def to_dict(config) -> dict:
    """A JSON-ready dict of a (nested) config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


# Fields that moved: what a saved config or an override used to say, and where it lives now.
RENAMED_FIELDS = {
    "env.sim.variant": "env.robot (a robot name such as g1_23dof; see `mimicjax.robots.names()`)",
    "env.sim.model_path": "env.robot_mjcf",
}


def upgrade_saved_config(data: dict) -> dict:
    """A saved experiment config (`to_dict` output) of an earlier version in today's layout."""
    env = dict(data.get("env", {}))
    sim = dict(env.get("sim", {}))
    if "variant" in sim:
        env.setdefault("robot", f"g1_{sim.pop('variant')}")
    if "model_path" in sim:
        env.setdefault("robot_mjcf", sim.pop("model_path"))
    if "sim" in env:
        env["sim"] = sim
    return {**data, "env": env} if "env" in data else data


def saved_experiment(data: dict):
    """The `ExperimentConfig` of a saved config dict (a run's config.json), upgraded from earlier versions."""
    return from_dict(ExperimentConfig, upgrade_saved_config(data))


def from_dict(cls, data: dict):
    """Rebuild a config dataclass of type `cls` from `to_dict`'s output (unknown keys are errors)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - fields
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = from_dict(hint, value)
        elif isinstance(value, list):
            values[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        else:
            values[name] = value
    return cls(**values)


# ---- resuming a run with a changed config ------------------------------------------------------------

# What `--resume` may change: how long and how often (train.*, distill.iterations), the learning rates
# and objective (ppo.*, env.rewards.*, env.terminations.*, distill.dagger.*) and the episode limit.
# Everything else shapes the saved state or what it means (robot, networks, observations, env count,
# motions, randomisation buffers) and must stay as the run has it.
RESUME_MAY_CHANGE = (
    "name", "train.", "ppo.", "env.rewards.", "env.terminations.", "env.episode_seconds",
    "distill.iterations", "distill.dagger.",
)
RESUME_MUST_KEEP = ("train.num_envs", "ppo.normalize_observations", "ppo.obs_clip")


def flat_fields(config, prefix: str = "") -> dict[str, Any]:
    """{dotted path: value} of every leaf field of a (nested) config dataclass."""
    out = {}
    for field in dataclasses.fields(config):
        value, path = getattr(config, field.name), f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            out.update(flat_fields(value, f"{path}."))
        else:
            out[path] = value
    return out


def config_changes(saved, requested) -> list[tuple[str, Any, Any]]:
    """(dotted path, saved value, requested value) of every field where the two configs differ."""
    old, new = flat_fields(saved), flat_fields(requested)
    return [(path, old[path], new[path]) for path in old if old[path] != new[path]]


def may_change_on_resume(path: str, may_change=RESUME_MAY_CHANGE, must_keep=RESUME_MUST_KEEP) -> bool:
    if any(path == keep or path.startswith(keep + ".") for keep in must_keep):
        return False
    return any(path == allowed or (allowed.endswith(".") and path.startswith(allowed)) for allowed in may_change)


def resume_config(
    saved, requested, run_dir, may_change=RESUME_MAY_CHANGE, must_keep=RESUME_MUST_KEEP
) -> tuple[Any, list[tuple[str, Any, Any]]]:
    """The config a resumed run continues with, and the changes it applies: `requested` when every field
    where it differs from `saved` may change on resume (`may_change`: dotted paths, a trailing dot for a
    whole section; `must_keep` overrides it), else a ConfigError naming each field that may not."""
    changes = config_changes(saved, requested)
    refused = [(path, old, new) for path, old, new in changes if not may_change_on_resume(path, may_change, must_keep)]
    if refused:
        lines = "\n".join(f"  {path}: the run has {old!r}, the request {new!r}" for path, old, new in refused)
        allowed = ", ".join(p.rstrip(".") + (".*" if p.endswith(".") else "") for p in may_change)
        except_ = f" (but not {', '.join(must_keep)})" if must_keep else ""
        raise ConfigError(
            f"--resume cannot change what the run in {run_dir} was built with:\n{lines}\n"
            f"Keep these as the run has them (see {run_dir}/config.json), or start a new --run-dir. A resumed run "
            f"may change: {allowed}{except_}."
        )
    return requested, changes


def describe_changes(changes: list[tuple[str, Any, Any]]) -> str:
    return "; ".join(f"{path}: {old!r} -> {new!r}" for path, old, new in changes)
