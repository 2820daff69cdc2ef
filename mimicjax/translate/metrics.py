"""How close a translated video is to the real one: SSIM, and where the gripper is against where the cue says.

* `ssim`: the structural similarity of Wang et al. (2004), "Image quality assessment: from error visibility
  to structural similarity": local means, variances and covariance under an 11x11 Gaussian window
  (sigma 1.5), K1 = 0.01, K2 = 0.03, peak 255, averaged over the window positions inside the image and
  over the colour channels (scikit-image's `structural_similarity` with `gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1` computes the same). In JAX,
  since scikit-image is not a dependency; `tests/translate/test_metrics.py` checks it against the formula
  computed with scipy's Gaussian filter. PSNR is `mimicjax.translate.h2rep.removal.psnr`.
* `locate_colour`: the gripper of a video rendered with a marker colour (`translate make-data
  --gripper-colour`), found as the median position of the pixels whose colour is a shade of the marker.
"""

from __future__ import annotations

import functools

import numpy as np

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # 11 taps: scipy's and scikit-image's truncation of a 1.5-sigma Gaussian at 3.5 sigma
SSIM_K1, SSIM_K2 = 0.01, 0.03


def gaussian_taps(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    """The normalised 1-D Gaussian window, 2 * radius + 1 taps."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    return taps / taps.sum()


@functools.lru_cache(maxsize=4)
def _ssim_function(peak: float):
    import jax
    import jax.numpy as jnp

    taps = jnp.asarray(gaussian_taps(), jnp.float32)
    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2

    def blur(x):  # [N, H, W] -> [N, H - 10, W - 10]: the separable window at every position inside the image
        size = taps.shape[0]
        rows = sum(taps[i] * x[:, i : x.shape[1] - size + 1 + i] for i in range(size))
        return sum(taps[i] * rows[:, :, i : x.shape[2] - size + 1 + i] for i in range(size))

    @jax.jit
    def per_image(a, b):  # [N, H, W] float32 -> [N]
        # Moments about each plane's mean: E[x^2] - E[x]^2 of raw 0-255 values loses float32 digits.
        mean_a, mean_b = (jnp.mean(x, axis=(1, 2), keepdims=True) for x in (a, b))
        a0, b0 = a - mean_a, b - mean_b
        mu_a0, mu_b0 = blur(a0), blur(b0)
        mu_a, mu_b = mu_a0 + mean_a, mu_b0 + mean_b
        var_a, var_b = blur(a0 * a0) - mu_a0**2, blur(b0 * b0) - mu_b0**2
        cov = blur(a0 * b0) - mu_a0 * mu_b0
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        return jnp.mean(s, axis=(1, 2))

    return per_image


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> np.ndarray:
    """SSIM of each frame of `a` against `b`: [..., H, W, C] -> [...], the mean over the window positions
    inside the frame and over its channels. Frames need at least 11x11 pixels."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape or a.ndim < 3:
        raise ValueError(f"SSIM compares frames [..., H, W, C] of one shape, got {a.shape} and {b.shape}")
    *lead, height, width, channels = a.shape
    if min(height, width) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs frames of at least {2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1} pixels, got {width}x{height}")
    planes = lambda x: np.moveaxis(x, -1, -3).reshape(-1, height, width)  # one [H, W] plane per frame and channel
    values = np.asarray(_ssim_function(float(peak))(planes(a), planes(b)))
    return values.reshape(*lead, channels).mean(axis=-1)


def colour_mask(frames: np.ndarray, rgb, max_angle: float = 15.0, min_level: float = 40.0) -> np.ndarray:
    """[..., H, W] bool: pixels of uint8 `frames` whose colour is a shade of `rgb` (values in [0, 1]).

    Shading scales a surface's colour, so a pixel of the marker points, as an RGB vector, the way the
    marker colour does: it is taken when the angle between the two is at most `max_angle` degrees (greys
    are 33 degrees from cyan, the table's slate and the green objects 26-28) and its component along the
    marker colour (how bright a shade of it the pixel is) at least `min_level` (0-255).
    """
    c = np.asarray(rgb, np.float32)
    c = c / np.linalg.norm(c)
    p = np.asarray(frames, np.float32)
    along = p @ c
    length = np.linalg.norm(p, axis=-1)
    return (along >= min_level) & (along >= np.cos(np.radians(max_angle)) * length)


def locate_colour(frames: np.ndarray, rgb, *, max_angle: float = 15.0, min_level: float = 40.0,
                  min_pixels: int = 2) -> np.ndarray:
    """[T, 2] (x, y) per frame of uint8 `frames` [T, H, W, 3]: the median position of the pixels of
    colour `rgb` (`colour_mask`), NaN where fewer than `min_pixels` match."""
    masks = colour_mask(frames, rgb, max_angle, min_level)
    found = np.full((len(masks), 2), np.nan)
    for t, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(xs) >= min_pixels:
            found[t] = np.median(xs), np.median(ys)
    return found


def cue_following(cue_pixels: np.ndarray, cue_visible: np.ndarray, found: np.ndarray) -> dict:
    """How far the gripper found in a video is from the cue, over the frames where the cue is on the image.

    Returns {"error_px": mean distance over those frames where a gripper was found (None if never),
    "found": the fraction of those frames where one was found, "frames": how many there are}.
    """
    visible = np.asarray(cue_visible, bool)
    hit = visible & np.all(np.isfinite(found), axis=1)
    distances = np.linalg.norm(np.asarray(found)[hit] - np.asarray(cue_pixels)[hit], axis=1)
    count = int(visible.sum())
    return {"error_px": float(distances.mean()) if len(distances) else None,
            "found": float(hit.sum() / count) if count else None, "frames": count}
