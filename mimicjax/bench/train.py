"""`mimicjax bench train`: training throughput, from raw physics up to a full PPO iteration, in one run.

Four jitted functions are measured on the same batch of envs, each compiled first (compile seconds
reported apart) and then timed over `--repeats` steady-state calls:

  * physics: MJX alone, `sim.hold` (batched `mjx.step` x substeps per control step, fixed PD targets),
    from the env batch's own states;
  * env: the full tracking env, a `lax.scan` of the vmapped `env.step` with random actions:
    observations, rewards, terminations, domain randomisation and auto-resets included. The transitions
    are kept as a rollout keeps them (observations, actions, rewards, done flags);
  * update: `ppo_update` (GAE, normaliser refresh, epochs x minibatches, symmetry loss when the config
    uses it) on a rollout of `--envs` x `--steps` transitions (the env measurement's);
  * iteration: the training loop's jitted iteration (`make_ppo_iteration`: policy rollout + update).

"env steps" are control steps of one env (50 Hz by default); `env_over_physics` is the share of the
physics speed the tracking env keeps. Compiles are measured with JAX's persistent compilation cache
off (`--compile-cache` lets them load from it). The default experiment is the GPU one (`experiments/g1_tracking.py`:
default networks, symmetry loss on); `--config` measures another.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time

from mimicjax import robots
from mimicjax.bench.common import device_memory_mb, load_average, peak_host_memory_mb, persistent_compilation_cache


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--envs", type=int, default=64, help="parallel envs (default 64; 4096-16384 on a GPU)")
    parser.add_argument("--steps", type=int, default=24, help="control steps per env per call = rollout length (default 24)")
    robots.add_robot_argument(parser, default=None, help="the robot (the config's when not given)")
    parser.add_argument("--config", default=None, metavar="EXPERIMENT.py", help="experiment file (default: the GPU teacher experiment)")
    parser.add_argument("--motions", default=None, metavar="LIB.npz", help="motion library (default: the sample library)")
    parser.add_argument("--impl", default=None, choices=("auto", "jax", "warp", "c"), help="physics backend (default: the config's; c: MuJoCo's C engine, CPU)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each function after its warm-up (default 3)")
    parser.add_argument(
        "--variants", type=int, default=1, metavar="K",
        help="also time K training variants (seeds; keypoint weighting on and off in turn) as "
        "one vmapped iteration, against K iterations of single runs (default 1: not measured)",
    )
    parser.add_argument(
        "--compile-cache", action="store_true",
        help="let JAX load programs from its persistent compilation cache (compile_s then measures loading)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)")


def default_config():
    """The GPU teacher experiment of `experiments/g1_tracking.py`, without its run length."""
    from mimicjax.config import ExperimentConfig
    from mimicjax.rl.ppo import PPOConfig

    return ExperimentConfig(name="bench_train", ppo=PPOConfig(symmetry_coef=1.0))


def resolve_config(args: argparse.Namespace):
    import dataclasses

    from mimicjax import config as config_lib

    if args.envs < 1 or args.steps < 1 or args.repeats < 1 or args.variants < 1:
        raise ValueError("--envs, --steps, --repeats and --variants must be positive")
    config = config_lib.load_experiment(args.config) if args.config else default_config()
    config = config_lib.apply_overrides(config, args.overrides)
    sim = config.env.sim
    env = config.env if not args.robot else dataclasses.replace(config.env, robot=args.robot)
    if args.impl:
        sim = dataclasses.replace(sim, impl=args.impl)
    train = dataclasses.replace(config.train, num_envs=args.envs, rollout_steps=args.steps)
    motions = config.motions if not args.motions else dataclasses.replace(config.motions, library=args.motions)
    return dataclasses.replace(config, env=dataclasses.replace(env, sim=sim), train=train, motions=motions)


def run(args: argparse.Namespace) -> dict:
    config = resolve_config(args)
    with persistent_compilation_cache(args.compile_cache):
        return _run(args, config)


def _run(args: argparse.Namespace, config) -> dict:
    import jax
    import mujoco

    from mimicjax.envs import sim as sim_lib
    from mimicjax.rl.symmetry import Symmetry
    from mimicjax.train import loop
    from mimicjax.train.run_log import progress

    library = loop.load_motions(config)
    envs, steps = config.train.num_envs, config.train.rollout_steps
    bar = progress(total=5 + (args.variants > 1), desc="bench train", force=False)
    bar.set_postfix_str("building envs")
    started = time.perf_counter()
    run_ = loop.build_run(config, library)
    jax.block_until_ready((run_.train_state, run_.rollout_state))
    build_s = time.perf_counter() - started
    bar.update(1)

    env, sim = run_.env, run_.env.sim
    env_state = run_.rollout_state.env_state
    transitions = envs * steps

    bar.set_postfix_str("physics")
    # The robot model is a compile-time constant here, as it is inside the env's step.
    physics = _measure(
        jax.jit(lambda data, targets: sim_lib.hold(sim, data, targets, steps)), (env_state.data, env_state.data.ctrl),
        args.repeats, carry=lambda inputs, out: (out, inputs[1]),
    )
    physics.pop("output")
    bar.update(1)

    bar.set_postfix_str("tracking env")
    env_rollout = jax.jit(functools.partial(random_action_rollout, env=env, num_steps=steps))
    rng = jax.random.key(config.seed + 1)
    env_result = _measure(
        env_rollout, (env_state, rng), args.repeats,
        carry=lambda inputs, out: (out[0], jax.random.fold_in(inputs[1], 1)),
    )
    rollout = env_result.pop("output")[1]
    bar.update(1)

    bar.set_postfix_str("PPO update")
    symmetry = Symmetry.from_env(env)
    update = jax.jit(functools.partial(_ppo_update, config=config.ppo, symmetry=symmetry))
    update_result = _measure(update, (run_.train_state, rollout), args.repeats, carry=lambda inputs, out: (out, inputs[1]))
    bar.update(1)

    bar.set_postfix_str("PPO iteration")
    iteration = _measure(
        run_.iteration_fn, (run_.train_state, run_.rollout_state), args.repeats,
        carry=lambda inputs, out: (out[0], out[1]),
    )
    bar.update(1)
    update_result.pop("output")
    iteration.pop("output")
    variants = None
    if args.variants > 1:
        bar.set_postfix_str(f"{args.variants} variants")
        variants = _measure_variants(ablation_variants(config, args.variants), library, args.repeats, iteration)
        bar.update(1)
    bar.close()

    physics_sps = transitions / physics["seconds_per_call"]
    env_sps = transitions / env_result["seconds_per_call"]
    iteration_sps = transitions / iteration["seconds_per_call"]
    device = jax.devices()[0]
    return {
        "benchmark": "train",
        "experiment": config.name,
        "robot": config.env.robot,
        "impl": sim.impl,
        "num_envs": envs,
        "steps_per_call": steps,
        "transitions_per_call": transitions,
        "repeats": args.repeats,
        "substeps_per_control_step": sim.substeps,
        "randomization": config.env.randomization.enabled,
        "symmetry_coef": config.ppo.symmetry_coef,
        "ppo_epochs": config.ppo.epochs,
        "ppo_minibatches": config.ppo.minibatches,
        "actor_hidden_sizes": list(config.network.actor_hidden_sizes),
        "clips": int(library.num_clips),
        "build_s": build_s,
        "physics": physics,
        "env": env_result,
        "update": update_result,
        "iteration": iteration,
        "physics_env_steps_per_s": physics_sps,
        "env_steps_per_s": env_sps,
        "env_over_physics": env_sps / physics_sps,
        "update_s": update_result["seconds_per_call"],
        "iteration_s": iteration["seconds_per_call"],
        "iteration_env_steps_per_s": iteration_sps,
        "rollout_s_estimate": iteration["seconds_per_call"] - update_result["seconds_per_call"],
        "variants": variants,
        "compile_s": {
            "physics": physics["compile_s"],
            "env": env_result["compile_s"],
            "update": update_result["compile_s"],
            "iteration": iteration["compile_s"],
            **({"variants": variants["compile_s"]} if variants else {}),
        },
        "backend": jax.default_backend(),
        "device": str(device.device_kind),
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "load_average": load_average(),
        "peak_host_memory_mb": peak_host_memory_mb(),
        "device_memory": device_memory_mb(device),
        "compile_cache": bool(args.compile_cache and jax.config.jax_compilation_cache_dir),
        "versions": {
            "jax": jax.__version__,
            "jaxlib": _version("jaxlib"),
            "mujoco": mujoco.__version__,
            "flax": _version("flax"),
            "optax": _version("optax"),
            "python": platform.python_version(),
        },
    }


# ---- the measured functions -------------------------------------------------------------------


def ablation_variants(config, count: int) -> list:
    """`count` configs as a reward ablation has them: seeds `config.seed`, +1, ...; every second one with
    uniform keypoint weights. (Other varied numbers, e.g. the symmetry coefficient, cost the same.)"""
    import dataclasses

    groups = dict.fromkeys(robots.get(config.env.robot).keypoint_groups)
    out = []
    for i in range(count):
        variant = dataclasses.replace(config, seed=config.seed + i)
        if i % 2:
            rewards = dataclasses.replace(config.env.rewards, keypoint_group_weights=tuple((g, 1.0) for g in groups))
            variant = dataclasses.replace(variant, env=dataclasses.replace(config.env, rewards=rewards))
        out.append(variant)
    return out


def _measure_variants(configs: list, library, repeats: int, single: dict) -> dict:
    """One vmapped iteration of `configs`, against `single` (one run's iteration) run once per variant."""
    from mimicjax.train.variants import build_variants, differing_fields

    variants = build_variants(configs, library)
    result = _measure(
        variants.iteration_fn, (variants.train_states, variants.rollout_states, variants.values), repeats,
        carry=lambda inputs, out: (out[0], out[1], inputs[2]),
    )
    result.pop("output")
    transitions = variants.count * configs[0].train.num_envs * configs[0].train.rollout_steps
    sequential_s = variants.count * single["seconds_per_call"]
    return {
        "count": variants.count,
        "varied": differing_fields(configs),
        **result,
        "env_steps_per_s": transitions / result["seconds_per_call"],
        "sequential_seconds_per_call": sequential_s,  # the same iterations as `count` single runs
        "speedup_over_sequential": sequential_s / result["seconds_per_call"],
    }


def random_action_rollout(env_state, rng, *, env, num_steps: int):
    """Step the batched `env_state` `num_steps` times with N(0, 1) actions (an untrained policy's
    spread); returns the final state and the transitions as a PPO `Rollout` (zero values)."""
    import jax
    import jax.numpy as jnp

    from mimicjax.rl.rollout import policy_transition
    from mimicjax.rl.unroll import unroll

    num_envs = env_state.reward.shape[0]
    zeros = jnp.zeros((num_envs,), jnp.float32)

    def random_action(state, key):
        return jax.random.normal(key, (num_envs, env.action_size), jnp.float32), None

    def transition(state, action, _, next_state):
        standard = jnp.zeros_like(action)  # N(0, 1): mean 0, log std 0
        return policy_transition(state, action, next_state, standard, standard, values=zeros, final_values=zeros)

    out = unroll(env, env_state, random_action, rng, num_steps, record_fn=transition)
    return out.state, out.records.replace(last_values=zeros)


def _ppo_update(train_state, rollout, *, config, symmetry):
    from mimicjax.rl import ppo

    return ppo.ppo_update(train_state, rollout, config, symmetry)[0]


def _measure(fn, inputs: tuple, repeats: int, carry) -> dict:
    """Compile `fn` for `inputs`, warm it up, then time `repeats` calls; `carry(inputs, output)` gives
    the next call's inputs (so state advances as in training)."""
    import jax

    started = time.perf_counter()
    compiled = fn.lower(*inputs).compile()
    compile_s = time.perf_counter() - started
    output = jax.block_until_ready(compiled(*inputs))  # warm-up
    inputs = carry(inputs, output)
    times, cpu = [], 0.0
    for _ in range(repeats):
        cpu_start, started = time.process_time(), time.perf_counter()
        output = jax.block_until_ready(compiled(*inputs))
        times.append(time.perf_counter() - started)
        cpu += time.process_time() - cpu_start
        inputs = carry(inputs, output)
    best = min(times)
    return {
        "compile_s": compile_s,
        "seconds_per_call": best,  # best of the timed calls: the least disturbed by other jobs
        "mean_seconds_per_call": sum(times) / len(times),
        "cpu_seconds_per_call": cpu / repeats,
        "output": output,
    }


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
