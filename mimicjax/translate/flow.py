"""Flow matching for the Wan transformer: noise schedules, the training loss and samplers.

Convention (rectified flow, as Wan is trained): x_sigma = (1 - sigma) * x0 + sigma * noise, the model
predicts the velocity v = noise - x0 at timestep t = 1000 * sigma. Schedules are shifted towards high
noise by sigma' = shift * sigma / (1 + (shift - 1) * sigma) (shift 5 for Wan 2.2 TI2V at 704p, 3 for
480p Wan 2.1 sampling).

Samplers integrate from sigma = 1 (pure noise) to 0 with a denoiser `denoise(x, t) -> v`:
  * `euler_sample`: x <- x + (sigma_next - sigma) * v, on `euler_schedule` (the sigmas and timesteps of
    diffusers' FlowMatchEulerDiscreteScheduler).
  * `unipc_sample`: UniPC multistep (B(h) = e^h - 1 "bh2", data prediction, predictor order <= 2 with a
    corrector, first and last steps order 1), on `unipc_schedule`, step for step what diffusers'
    `UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=s)`
    computes. Its update coefficients depend only on the schedule and are precomputed, so the whole
    loop is one `lax.scan`.
`guided_denoiser` adds classifier-free guidance.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

NUM_TRAIN_TIMESTEPS = 1000
Denoiser = Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray]


def shift_sigmas(sigmas, shift: float):
    """sigma -> shift * sigma / (1 + (shift - 1) * sigma); works on NumPy and JAX arrays."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


# ----------------------------------------------------------------------------------------------
# Schedules


def euler_schedule(num_steps: int, shift: float = 5.0, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS):
    """(sigmas [num_steps + 1] ending in 0, timesteps [num_steps]) as FlowMatchEulerDiscreteScheduler(shift)
    produces them (float32)."""
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")
    n = num_train_timesteps
    train_sigmas = np.linspace(1, n, n, dtype=np.float32)[::-1] / np.float32(n)
    train_sigmas = shift_sigmas(train_sigmas, np.float32(shift)).astype(np.float32)
    sigma_max, sigma_min = float(train_sigmas[0]), float(train_sigmas[-1])
    timesteps = np.linspace(sigma_max * n, sigma_min * n, num_steps)
    sigmas = shift_sigmas(timesteps / n, shift).astype(np.float32)
    return np.concatenate([sigmas, np.zeros(1, np.float32)]), (sigmas * np.float32(n)).astype(np.float32)


def unipc_schedule(num_steps: int, shift: float = 5.0, num_train_timesteps: int = NUM_TRAIN_TIMESTEPS):
    """(sigmas [num_steps + 1] ending in 0, timesteps [num_steps]) as UniPCMultistepScheduler with
    use_flow_sigmas=True, flow_shift=shift produces them; its timesteps are integers (the model sees
    int(1000 * sigma)), returned here as float32."""
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")
    sigmas = np.linspace(1, 1 / num_train_timesteps, num_steps + 1)[:-1]
    sigmas = shift_sigmas(sigmas, shift)
    if abs(sigmas[0] - 1) < 1e-6:
        sigmas[0] -= 1e-6
    timesteps = (sigmas * num_train_timesteps).astype(np.int64).astype(np.float32)
    return np.concatenate([sigmas, [0.0]]).astype(np.float32), timesteps


# ----------------------------------------------------------------------------------------------
# Training


def sample_training_sigmas(rng: jax.Array, batch: int, shift: float = 5.0, distribution: str = "uniform"):
    """Noise levels for a training batch: u ~ U(0, 1) ("uniform") or sigmoid(N(0, 1)) ("logit_normal"),
    then shifted."""
    if distribution == "uniform":
        u = jax.random.uniform(rng, (batch,), minval=1.0 / NUM_TRAIN_TIMESTEPS, maxval=1.0)
    elif distribution == "logit_normal":
        u = jax.nn.sigmoid(jax.random.normal(rng, (batch,)))
    else:
        raise ValueError(f"unknown sigma distribution {distribution!r} (uniform, logit_normal)")
    return shift_sigmas(u, shift)


def _bell_normaliser() -> float:
    grid = np.linspace(0, 1, 100001)
    y = np.exp(-2 * (grid - 0.5) ** 2) - np.exp(-0.5)
    return float(y.mean())


_BELL_MEAN = _bell_normaliser()


def loss_weight(sigma: jnp.ndarray, weighting: str = "none") -> jnp.ndarray:
    """Per-sample loss weight. "none": 1. "bell": exp(-2 (sigma - 1/2)^2) minus its value at the ends,
    normalised to mean 1 over sigma in [0, 1] (emphasises mid-range noise, as Wan fine-tuning recipes do)."""
    if weighting == "none":
        return jnp.ones_like(sigma)
    if weighting == "bell":
        return (jnp.exp(-2 * (sigma - 0.5) ** 2) - np.exp(-0.5)) / _BELL_MEAN
    raise ValueError(f"unknown loss weighting {weighting!r} (none, bell)")


def noised(x0: jnp.ndarray, noise: jnp.ndarray, sigma: jnp.ndarray) -> jnp.ndarray:
    s = sigma.reshape((-1,) + (1,) * (x0.ndim - 1)).astype(x0.dtype)
    return (1 - s) * x0 + s * noise


def flow_matching_loss(
    predict: Callable[[jnp.ndarray, jnp.ndarray], jnp.ndarray],
    x0: jnp.ndarray,
    noise: jnp.ndarray,
    sigma: jnp.ndarray,
    weighting: str = "none",
) -> jnp.ndarray:
    """mean_b w(sigma_b) * mean((predict(x_sigma, 1000 sigma) - (noise - x0))^2), computed in float32."""
    x_t = noised(x0, noise, sigma)
    velocity = predict(x_t, sigma * NUM_TRAIN_TIMESTEPS).astype(jnp.float32)
    target = (noise - x0).astype(jnp.float32)
    per_sample = jnp.mean(jnp.square(velocity - target), axis=tuple(range(1, x0.ndim)))
    return jnp.mean(loss_weight(sigma, weighting) * per_sample)


# ----------------------------------------------------------------------------------------------
# Sampling


def guided_denoiser(model_fn, context, negative_context=None, guidance_scale: float = 1.0) -> Denoiser:
    """denoise(x, t) from model_fn(x, t [B], context): v_neg + g (v - v_neg) when guidance_scale != 1.

    With contexts of equal shape the two predictions run as one doubled batch.
    """
    def denoise(x, t):
        t_batch = jnp.broadcast_to(t, (x.shape[0],))
        if negative_context is None or guidance_scale == 1.0:
            return model_fn(x, t_batch, context)
        if negative_context.shape == context.shape:
            both = model_fn(
                jnp.concatenate([x, x]), jnp.concatenate([t_batch, t_batch]),
                jnp.concatenate([negative_context, context]),
            )
            v_neg, v_pos = jnp.split(both, 2)
        else:
            v_neg = model_fn(x, t_batch, negative_context)
            v_pos = model_fn(x, t_batch, context)
        return v_neg + guidance_scale * (v_pos - v_neg)

    return denoise


def euler_sample(denoise: Denoiser, noise: jnp.ndarray, sigmas, timesteps) -> jnp.ndarray:
    """Integrate dx/dsigma = v from sigmas[0] to sigmas[-1] with explicit Euler (float32 state)."""
    sigmas = jnp.asarray(sigmas, jnp.float32)
    timesteps = jnp.asarray(timesteps, jnp.float32)

    def step(x, inputs):
        sigma, sigma_next, t = inputs
        v = denoise(x, t).astype(jnp.float32)
        return x + (sigma_next - sigma) * v, None

    x, _ = jax.lax.scan(step, noise.astype(jnp.float32), (sigmas[:-1], sigmas[1:], timesteps))
    return x


def unipc_coefficients(sigmas, order: int = 2) -> dict[str, np.ndarray]:
    """Per-step linear coefficients of UniPC (bh2, data prediction, flow sigmas) for `unipc_sample`.

    With m_i = x_i - sigma_i v_i (the data prediction at step i) and x^c the corrected sample:
      corrector  x^c_i = cs x_i + cx x^c_{i-1} + c0 m_i + c1 m_{i-1} + c2 m_{i-2}
      predictor  x_{i+1} = px x^c_i + p0 m_i + p1 m_{i-1}
    """
    if order not in (1, 2):
        raise ValueError("UniPC order must be 1 or 2")
    s = np.asarray(sigmas, np.float64)
    n = len(s) - 1
    with np.errstate(divide="ignore"):
        lam = np.log(1 - s) - np.log(s)  # +inf at sigma = 0
    alpha = 1 - s
    orders = [min(order, n - i, i + 1) for i in range(n)]
    coef = {name: np.zeros(n) for name in ("cs", "cx", "c0", "c1", "c2", "px", "p0", "p1")}

    def phi(t_idx, s_idx):
        h = lam[t_idx] - lam[s_idx]
        hh = -h
        h_phi_1 = np.expm1(hh)
        return h, hh, h_phi_1, np.expm1(hh)

    for i in range(n):
        # predictor from step i to i + 1
        h, hh, h_phi_1, b_h = phi(i + 1, i)
        coef["px"][i] = s[i + 1] / s[i]
        coef["p0"][i] = -alpha[i + 1] * h_phi_1
        if orders[i] == 2:
            rk = (lam[i - 1] - lam[i]) / h
            coef["p0"][i] += alpha[i + 1] * b_h * 0.5 / rk
            coef["p1"][i] = -alpha[i + 1] * b_h * 0.5 / rk
        # corrector of the sample at step i (uses the order of the previous predictor)
        if i == 0:
            coef["cs"][i] = 1.0
            continue
        h, hh, h_phi_1, b_h = phi(i, i - 1)
        coef["cx"][i] = s[i] / s[i - 1]
        coef["c1"][i] = -alpha[i] * h_phi_1
        if orders[i - 1] == 1:
            rho0, rho1, rk = 0.0, 0.5, 1.0
        else:
            rk = (lam[i - 2] - lam[i - 1]) / h
            h_phi_k = h_phi_1 / hh - 1
            b1 = h_phi_k / b_h
            h_phi_k = h_phi_k / hh - 0.5
            b2 = h_phi_k * 2 / b_h
            rho0, rho1 = np.linalg.solve(np.array([[1.0, 1.0], [rk, 1.0]]), np.array([b1, b2]))
        coef["c1"][i] += alpha[i] * b_h * (rho0 / rk + rho1)
        coef["c2"][i] = -alpha[i] * b_h * rho0 / rk
        coef["c0"][i] = -alpha[i] * b_h * rho1
    return {k: v.astype(np.float32) for k, v in coef.items()}


def unipc_sample(denoise: Denoiser, noise: jnp.ndarray, sigmas, timesteps, order: int = 2) -> jnp.ndarray:
    """UniPC multistep sampling for a velocity (flow) predictor; see `unipc_coefficients`."""
    coef = {k: jnp.asarray(v) for k, v in unipc_coefficients(sigmas, order).items()}
    sig = jnp.asarray(sigmas, jnp.float32)[:-1]
    timesteps = jnp.asarray(timesteps, jnp.float32)
    x = noise.astype(jnp.float32)
    zeros = jnp.zeros_like(x)

    def step(carry, inputs):
        x_pred, x_corr_prev, m1, m2 = carry
        c, sigma, t = inputs
        m0 = x_pred - sigma * denoise(x_pred, t).astype(jnp.float32)
        x_corr = c["cs"] * x_pred + c["cx"] * x_corr_prev + c["c0"] * m0 + c["c1"] * m1 + c["c2"] * m2
        x_next = c["px"] * x_corr + c["p0"] * m0 + c["p1"] * m1
        return (x_next, x_corr, m0, m1), None

    (x, _, _, _), _ = jax.lax.scan(step, (x, zeros, zeros, zeros), (coef, sig, timesteps))
    return x


def sample(
    denoise: Denoiser, noise: jnp.ndarray, *, steps: int = 50, shift: float = 5.0, solver: str = "unipc"
) -> jnp.ndarray:
    """Noise -> clean latents with the named solver ("unipc" or "euler") on its schedule."""
    if solver == "unipc":
        sigmas, timesteps = unipc_schedule(steps, shift)
        return unipc_sample(denoise, noise, sigmas, timesteps)
    if solver == "euler":
        sigmas, timesteps = euler_schedule(steps, shift)
        return euler_sample(denoise, noise, sigmas, timesteps)
    raise ValueError(f"unknown solver {solver!r} (unipc, euler)")
