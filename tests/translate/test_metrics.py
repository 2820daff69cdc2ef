"""PSNR and SSIM against known values and the SSIM formula computed independently; the colour locator, cue
following, and the camera of a fitted video."""

from __future__ import annotations

import numpy as np
import pytest

from mimicjax.translate import metrics
from mimicjax.translate.h2rep.removal import psnr


def reference_ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Wang et al. (2004) in float64 with scipy's Gaussian filter (sigma 1.5, truncated at 3.5 sigma: 11
    taps), over the window positions inside the image, averaged over the channels."""
    from scipy.ndimage import gaussian_filter

    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    values = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)
        blur = lambda z: gaussian_filter(z, 1.5, truncate=3.5)[5:-5, 5:-5]
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
        values.append(s.mean())
    return float(np.mean(values))


def test_psnr_known_values():
    a = np.full((2, 16, 16, 3), 100, np.uint8)
    assert psnr(a + 10, a) == pytest.approx(10 * np.log10(255**2 / 100))  # 28.13 dB
    assert psnr(a, a) == float("inf")
    assert psnr(np.zeros_like(a), np.full_like(a, 255)) == pytest.approx(0.0)


def test_ssim_matches_the_formula():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 24, 20, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    got = metrics.ssim(a, b)
    assert got.shape == (3,)
    for t in range(3):
        assert got[t] == pytest.approx(reference_ssim(a[t], b[t]), abs=2e-5)
    np.testing.assert_allclose(metrics.ssim(a, a), 1.0, atol=1e-6)
    # Flat frames: no variance, so SSIM is the luminance term (2 x y + C1) / (x^2 + y^2 + C1).
    x, y, c1 = 50.0, 200.0, (0.01 * 255) ** 2
    flat = metrics.ssim(np.full((1, 16, 16, 3), x), np.full((1, 16, 16, 3), y))
    assert flat[0] == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1), rel=1e-6)
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(a[:, :8, :8], b[:, :8, :8])


def test_ssim_agrees_with_scikit_image_where_installed():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255, channel_axis=-1)
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-4)


def test_the_marker_colour_is_found_in_any_shade():
    cyan = (0.05, 0.8, 0.85)
    frames = np.full((3, 20, 30, 3), (100, 115, 140), np.uint8)  # the table's slate
    frames[0, 4:8, 10:14] = np.round(np.array(cyan) * 255 * 0.55)  # in shadow
    frames[1, 12:16, 20:26] = np.round(np.array(cyan) * 255)
    frames[1, 0:2, 0:2] = (40, 170, 60)  # a green object is not the marker
    frames[2, 0:4, 0:4] = (42, 41, 44)  # nor a dark grey
    found = metrics.locate_colour(frames, cyan)
    np.testing.assert_allclose(found[0], [11.5, 5.5])
    np.testing.assert_allclose(found[1], [22.5, 13.5])
    assert np.isnan(found[2]).all()
    result = metrics.cue_following(np.array([[11.5, 9.5], [22.5, 13.5], [5.0, 5.0]]), np.array([True, True, True]), found)
    assert result == {"error_px": pytest.approx(2.0), "found": pytest.approx(2 / 3), "frames": 3}
    assert metrics.cue_following(found, np.zeros(3, bool), found) == {"error_px": None, "found": None, "frames": 0}


def test_the_camera_of_a_fitted_video_follows_the_scale_and_crop():
    from mimicjax.translate.h2rep.prepare import camera_for_fitted_video
    from mimicjax.translate.h2rep.scene import dataset_camera
    from mimicjax.video import fit_layout

    camera = dataset_camera(128, 96)
    fitted = camera_for_fitted_video(camera, 64, 64)
    points = np.array([[0.3, 0.1, 0.05], [0.5, -0.2, 0.2]])
    project = lambda cam: (lambda p: p[:, :2] / p[:, 2:])(cam.to_camera(points) @ cam.intrinsics.T)
    scaled_w, scaled_h, left, top = fit_layout(128, 96, 64, 64)
    expected = (project(camera) + 0.5) * [scaled_w / 128, scaled_h / 96] - 0.5 - [left, top]
    np.testing.assert_allclose(project(fitted), expected, atol=1e-9)
    assert (fitted.width, fitted.height) == (64, 64)
