"""H2Rep gripper cue: red dot at the position, blue arrow along the orientation, alpha 0.4."""

from __future__ import annotations

import numpy as np


def test_cue_is_alpha_blended_where_expected():
    from mimicjax.translate.h2rep import draw_gripper_cue

    frames = np.full((2, 40, 60, 3), 100, np.uint8)
    out = draw_gripper_cue(frames, [[20, 10], [20, 10]], [[1, 0], [1, 0]], visible=[True, False],
                           dot_radius=3, arrow_length=20, arrow_width=2)
    np.testing.assert_array_equal(out[0, 10, 20], np.round(0.6 * 100 + 0.4 * np.array([255, 0, 0])))
    np.testing.assert_array_equal(out[0, 10, 33], np.round(0.6 * 100 + 0.4 * np.array([0, 0, 255])))  # on the shaft
    np.testing.assert_array_equal(out[0, 30, 5], [100, 100, 100])  # away from the cue
    np.testing.assert_array_equal(out[1], frames[1])  # invisible frame untouched
    assert out.dtype == np.uint8 and out.shape == frames.shape
