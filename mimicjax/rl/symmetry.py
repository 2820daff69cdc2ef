"""Left/right symmetry: mirror transforms, GenMimic's symmetry loss, mirrored-data augmentation.

A mirror is a function on flat vectors (any leading batch axes) that swaps left and right, e.g.
T_s on observations and T_a on actions. Most are signed permutations, `x[..., perm] * sign`, built by
`make_index_mirror`; an observation made of blocks (joint angles, velocities, keypoints, ...) gets its
mirror from the blocks' mirrors with `concat_mirrors`.

Symmetry loss (GenMimic):  coef * mean_s || mu(T_s(s)) - T_a(mu(s)) ||^2,  mu = the actor's mean.
The squared norm is summed over action dimensions and averaged over samples. Both sides carry gradient:
since T_a is a signed permutation (an isometry), the loss is the same for s and T_s(s), so neither side
is privileged as a "target".

Mirrored-data augmentation: every rollout sample (s, a) is joined by (T_s(s), T_a(a)) with the same
advantage, return and old value (the task is symmetric, so a mirrored state is worth what the original
is). The PPO ratio needs log pi_old(T_a(a) | T_s(s)), which the behaviour policy never produced; it is
evaluated under the policy at the start of the update (the same "old" policy PPO anchors to), for the
original samples too, so all samples share one anchor.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Mirror = Callable[[jax.Array], jax.Array]


def make_index_mirror(perm, sign=None, check_involution: bool = True) -> Mirror:
    """The mirror x -> x[..., perm] * sign. `sign` defaults to all +1.

    With `check_involution` (default), refuse a (perm, sign) whose mirror applied twice is not the
    identity: perm must pair indices (perm[perm[i]] == i) and partners must share a sign.
    """
    perm = np.asarray(perm, dtype=np.int64)
    size = perm.shape[0]
    sign = np.ones(size, np.float32) if sign is None else np.asarray(sign, dtype=np.float32)
    if perm.ndim != 1 or sign.shape != (size,):
        raise ValueError(f"perm and sign must be 1-D of equal length, got {perm.shape} and {sign.shape}")
    if sorted(perm.tolist()) != list(range(size)):
        raise ValueError(f"perm must be a permutation of 0..{size - 1}, got {perm.tolist()}")
    if not np.all(np.abs(sign) == 1.0):
        raise ValueError(f"sign entries must be +1 or -1, got {sign.tolist()}")
    if check_involution:
        bad = np.nonzero((perm[perm] != np.arange(size)) | (sign * sign[perm] != 1.0))[0]
        if bad.size:
            raise ValueError(
                f"mirror is not an involution at indices {bad.tolist()}: each index must be paired with "
                "its partner (perm[perm[i]] == i) and partners must have the same sign"
            )

    def mirror(x: jax.Array) -> jax.Array:
        if x.shape[-1] != size:
            raise ValueError(f"mirror expects vectors of size {size}, got shape {x.shape}")
        return x[..., perm] * sign.astype(x.dtype)

    return mirror


def identity_mirror(x: jax.Array) -> jax.Array:
    """For quantities that left/right reflection leaves unchanged (e.g. a phase variable)."""
    return x


def concat_mirrors(blocks: Sequence[tuple[int, Mirror]]) -> Mirror:
    """The mirror of a vector made of consecutive blocks [(size, mirror_of_block), ...]."""
    sizes = [int(size) for size, _ in blocks]
    if any(size <= 0 for size in sizes):
        raise ValueError(f"block sizes must be positive, got {sizes}")
    total = sum(sizes)
    splits = np.cumsum(sizes)[:-1].tolist()

    def mirror(x: jax.Array) -> jax.Array:
        if x.shape[-1] != total:
            raise ValueError(f"mirror expects vectors of size {total} (blocks {sizes}), got shape {x.shape}")
        parts = jnp.split(x, splits, axis=-1)
        return jnp.concatenate([fn(part) for part, (_, fn) in zip(parts, blocks)], axis=-1)

    return mirror


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """The reflections of an env: T_s for the actor and critic observations, T_a for actions.

    The symmetry loss needs only the actor's; augmentation also needs the critic's.
    """

    actor_obs: Mirror
    critic_obs: Mirror | None
    action: Mirror

    @classmethod
    def from_env(cls, env) -> "Symmetry":
        try:
            critic_obs = env.mirror_observation("critic")
        except NotImplementedError:
            critic_obs = None
        return cls(env.mirror_observation("actor"), critic_obs, env.mirror_action)


def symmetry_loss(mean: jax.Array, mirrored_mean: jax.Array, mirror_action: Mirror) -> jax.Array:
    """mean over samples of || mu(T_s(s)) - T_a(mu(s)) ||^2, given mu(s) and mu(T_s(s))."""
    return jnp.mean(jnp.sum(jnp.square(mirrored_mean - mirror_action(mean)), axis=-1))


def augment(samples: dict, symmetry: Symmetry) -> dict:
    """Append the mirrored copy of a flat batch of samples (leading axis B -> 2B).

    `samples` holds "actor_obs", "critic_obs" and "action", which are mirrored, and any other per-sample
    arrays (advantages, returns, old values, ...), which are repeated unchanged.
    """
    if symmetry.critic_obs is None:
        raise ValueError("mirrored-data augmentation needs the critic observation's mirror; the env has none")
    mirrors = {"actor_obs": symmetry.actor_obs, "critic_obs": symmetry.critic_obs, "action": symmetry.action}
    missing = set(mirrors) - set(samples)
    if missing:
        raise ValueError(f"augment needs {sorted(missing)} among the samples, got {sorted(samples)}")
    return {
        name: jnp.concatenate([value, mirrors[name](value) if name in mirrors else value], axis=0)
        for name, value in samples.items()
    }
