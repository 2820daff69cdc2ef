"""Checkpoints of the full training state, with Orbax.

A checkpoint is one numbered step folder holding three items:

  * "state": any pytree of arrays (train state, rollout state, sampler weights, counters, ...), saved
    bit-exactly. Typed PRNG keys are stored as their raw key data and re-typed on restore.
  * "config": the resolved configuration as JSON (a dataclass, or anything JSON-like).
  * "metadata": free-form JSON (git revision, wall time, env steps, ...), plus the PRNG-key bookkeeping.

Orbax writes each step into a temporary folder and renames it into place when complete, so a crash
mid-save leaves the previous checkpoints intact and the unfinished folder is never listed or restored.

    with Checkpoints(run_dir / "checkpoints", max_to_keep=5) as ckpt:
        ckpt.save(iteration, {"train": train_state, "rollout": rollout_state}, config=config)
    state = restore(run_dir / "checkpoints", target={"train": train_state, "rollout": rollout_state})
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

_STATE, _CONFIG, _METADATA = "state", "config", "metadata"
_PRNG_KEYS = "_prng_key_impls"  # metadata entry: {leaf path: key implementation name}


class Checkpoints:
    """Keep-last-N checkpoints in `directory`. Saves run in the background unless `async_save=False`."""

    def __init__(
        self,
        directory: str | Path,
        max_to_keep: int | None = 5,
        save_interval_steps: int = 1,
        async_save: bool = True,
    ):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            save_interval_steps=save_interval_steps,
            enable_async_checkpointing=async_save,
            create=True,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=(_STATE, _CONFIG, _METADATA))

    def save(
        self,
        step: int,
        state: Any,
        config: Any = None,
        metadata: dict | None = None,
        force: bool = False,
    ) -> bool:
        """Save `state` (a pytree of arrays) with `config` and `metadata` as checkpoint `step`.

        Returns whether a save started (`save_interval_steps` may skip it unless `force`).
        """
        data, key_impls = _encode_prng_keys(state)
        data = jax.tree.map(_stand_in_for_empty, data)
        meta = dict(metadata or {})
        if _PRNG_KEYS in meta:
            raise ValueError(f"metadata key {_PRNG_KEYS!r} is reserved")
        meta[_PRNG_KEYS] = key_impls
        return self._manager.save(
            int(step),
            args=ocp.args.Composite(**{
                _STATE: ocp.args.StandardSave(data),
                _CONFIG: ocp.args.JsonSave(to_json_data(config)),
                _METADATA: ocp.args.JsonSave(to_json_data(meta)),
            }),
            force=force,
        )

    def restore(self, step: int | None = None, target: Any = None, only: tuple[str, ...] | None = None) -> Any:
        """The state saved at `step` (default: the latest), in the structure of `target`.

        `target` is the state as built at start-up, or its `jax.eval_shape`: it fixes the pytree types,
        dtypes and shardings. Without it the raw nested dicts come back and PRNG keys stay key data.
        `only`: restore just these top-level entries of a dict `target` (the others are not read, so their
        shapes in `target` need not match the saved ones); returns a dict of them.
        """
        step = self._resolve_step(step)
        if only is not None:
            # The other entries are read as saved (their shapes from the checkpoint's own metadata), then dropped.
            saved = ocp.StandardCheckpointHandler().metadata(self.directory / str(step) / _STATE)
            saved = getattr(saved, "tree", saved)
            device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
            skipped = {key: jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), saved[key])
                       for key in saved if key not in only}
            kept = {key: target[key] for key in only}
            abstract = {**skipped, **jax.tree.map(_abstract_leaf, kept)}
            restored = self._manager.restore(step, args=ocp.args.Composite(**{
                _STATE: ocp.args.StandardRestore(abstract), _METADATA: ocp.args.JsonRestore()}))
            data = {key: restored[_STATE][key] for key in only}
            data = jax.tree.map(_empty_like_target, data, kept)
            return _decode_prng_keys(data, kept, restored[_METADATA].get(_PRNG_KEYS, {}))
        abstract = None if target is None else jax.tree.map(_abstract_leaf, target)
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(**{_STATE: ocp.args.StandardRestore(abstract), _METADATA: ocp.args.JsonRestore()}),
        )
        data = restored[_STATE]
        if target is None:
            return data
        key_impls = restored[_METADATA].get(_PRNG_KEYS, {})
        data = jax.tree.map(_empty_like_target, data, target)
        return _decode_prng_keys(data, target, key_impls)

    def config(self, step: int | None = None) -> Any:
        """The configuration saved with `step` (default: the latest), as JSON data."""
        return self._read_json(_CONFIG, step)

    def metadata(self, step: int | None = None) -> dict:
        meta = dict(self._read_json(_METADATA, step) or {})
        meta.pop(_PRNG_KEYS, None)
        return meta

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def wait(self) -> None:
        """Block until a background save has finished (and raise its error, if any)."""
        self._manager.wait_until_finished()

    def reload(self) -> None:
        """Read the folder again (after checkpoints were moved by hand or by `set_aside`)."""
        self._manager.reload()

    def close(self) -> None:
        self._manager.close()

    def __enter__(self) -> "Checkpoints":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _resolve_step(self, step: int | None) -> int:
        self.wait()
        steps = self.all_steps()
        if step is None:
            if not steps:
                raise FileNotFoundError(f"no finished checkpoint in {self.directory}")
            return steps[-1]
        if int(step) not in steps:
            raise FileNotFoundError(f"no checkpoint for step {step} in {self.directory}; available: {steps}")
        return int(step)

    def _read_json(self, item: str, step: int | None):
        step = self._resolve_step(step)
        return self._manager.restore(step, args=ocp.args.Composite(**{item: ocp.args.JsonRestore()}))[item]


DAMAGED_SUFFIX = ".damaged"  # a damaged checkpoint set aside by a resumed run: kept, never listed or deleted


class CheckpointUnreadable(ValueError):
    """No checkpoint of a run could be read; the message names each one and why."""


def newest_loadable(checkpoints: Checkpoints, load: Callable[[int], Any], up_to: int | None = None) -> tuple[int, Any, list[int]]:
    """`(step, load(step), damaged)` for the newest checkpoint (at most `up_to`) that `load` reads,
    skipping damaged or incomplete ones (a truncated file, a missing item) with a one-line warning each;
    `damaged` lists the skipped steps. Raises CheckpointUnreadable when none can be read."""
    steps = [step for step in checkpoints.all_steps() if up_to is None or step <= up_to]
    if not steps:
        raise FileNotFoundError(f"no finished checkpoint in {checkpoints.directory}")
    damaged, reasons = [], []
    for step in reversed(steps):
        try:
            return step, load(step), damaged
        except Exception as error:  # Orbax and TensorStore raise many types for a damaged folder
            reason = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:160]}"
            damaged.append(step)
            reasons.append(f"checkpoint {step}: {reason}")
            if step != steps[0]:
                print(f"warning: checkpoint {step} in {checkpoints.directory} cannot be read ({reason}); "
                      f"using the previous one", file=sys.stderr, flush=True)
    raise CheckpointUnreadable(f"no checkpoint in {checkpoints.directory} can be read:\n  " + "\n  ".join(reasons))


def set_aside(checkpoints: Checkpoints, steps: list[int]) -> list[Path]:
    """Rename the checkpoints `steps` to `<step>.damaged` (kept for inspection, no longer listed), so a
    resumed run can save those steps again; returns the new paths."""
    moved = []
    for step in steps:
        source = checkpoints.directory / str(step)
        target = source.with_name(f"{step}{DAMAGED_SUFFIX}")
        n = 1
        while target.exists():
            n += 1
            target = source.with_name(f"{step}{DAMAGED_SUFFIX}{n}")
        if source.exists():
            source.rename(target)
            moved.append(target)
    checkpoints.reload()
    return moved


def latest_step(directory: str | Path) -> int | None:
    """The newest finished checkpoint step in `directory`, or None (also when the folder is missing)."""
    if not Path(directory).is_dir():
        return None
    with Checkpoints(directory, max_to_keep=None, async_save=False) as ckpt:
        return ckpt.latest_step()


def restore(directory: str | Path, step: int | None = None, target: Any = None) -> Any:
    """The state saved in `directory` at `step` (default: latest), shaped like `target`."""
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"checkpoint folder not found: {directory}")
    with Checkpoints(directory, max_to_keep=None, async_save=False) as ckpt:
        return ckpt.restore(step, target)


def read_config(directory: str | Path, step: int | None = None) -> Any:
    """The config saved with `step`; without a step, that of the newest checkpoint that can be read."""
    with Checkpoints(directory, max_to_keep=None, async_save=False) as ckpt:
        return ckpt.config(step) if step is not None else newest_loadable(ckpt, ckpt.config)[1]


def read_metadata(directory: str | Path, step: int | None = None) -> dict:
    """The metadata saved with `step`; without a step, that of the newest checkpoint that can be read."""
    with Checkpoints(directory, max_to_keep=None, async_save=False) as ckpt:
        return ckpt.metadata(step) if step is not None else newest_loadable(ckpt, ckpt.metadata)[1]


# ---- PRNG keys: stored as key data ----------------------------------------------------------------


def _is_prng_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _encode_prng_keys(state) -> tuple[Any, dict[str, str]]:
    impls = {}

    def encode(path, leaf):
        if _is_prng_key(leaf):
            impls[jax.tree_util.keystr(path)] = str(jax.random.key_impl(leaf))
            return jax.random.key_data(leaf)
        return leaf

    return jax.tree_util.tree_map_with_path(encode, state), impls


# ---- Zero-size arrays (e.g. unused MJX fields): Orbax cannot store them, and they hold nothing ---------


def _is_empty(leaf) -> bool:
    return hasattr(leaf, "shape") and hasattr(leaf, "dtype") and 0 in tuple(leaf.shape)


def _stand_in_for_empty(leaf):
    return np.zeros((1,), leaf.dtype) if _is_empty(leaf) else leaf


def _empty_like_target(restored, target_leaf):
    if not _is_empty(target_leaf):
        return restored
    empty = jnp.zeros(target_leaf.shape, target_leaf.dtype)
    sharding = getattr(target_leaf, "sharding", None)
    return jax.device_put(empty, sharding) if sharding is not None else empty


def _abstract_leaf(leaf):
    """What Orbax should restore for one target leaf: key data for keys, the leaf's shape otherwise."""
    if _is_empty(leaf):
        return jax.ShapeDtypeStruct((1,), leaf.dtype)
    if _is_prng_key(leaf):
        data = jax.eval_shape(jax.random.key_data, leaf)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=getattr(leaf, "sharding", None))
    if isinstance(leaf, (jax.Array, jax.ShapeDtypeStruct)):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=getattr(leaf, "sharding", None))
    return leaf


def _decode_prng_keys(data, target, key_impls: dict[str, str]):
    def decode(path, restored, target_leaf):
        if not _is_prng_key(target_leaf):
            return restored
        name = jax.tree_util.keystr(path)
        if name not in key_impls:
            raise ValueError(f"the restore target has a PRNG key at {name}, but the checkpoint stored none there")
        return jax.random.wrap_key_data(restored, impl=key_impls[name])

    return jax.tree_util.tree_map_with_path(decode, data, target)


# ---- Configuration as JSON ------------------------------------------------------------------------


def to_json_data(value: Any) -> Any:
    """Plain JSON data for a config: dataclasses become dicts, tuples lists, paths strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # JSON has no NaN or infinity
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_data(v) for v in value]
    if isinstance(value, enum.Enum):
        return to_json_data(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        return to_json_data(np.asarray(value).tolist())
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in a JSON config")


def dumps(value: Any) -> str:
    """`value` as readable JSON text (e.g. for a config.json beside the run)."""
    return json.dumps(to_json_data(value), indent=2, sort_keys=True)
