"""H2Rep's gripper cue: the visual prompt H2R-Grounder draws on inpainted human videos.

After the person is removed from a frame (video inpainting is an external step), the robot gripper's
intended pose is drawn as a red dot at its image position and a blue arrow along its image-plane
orientation, both alpha-blended onto the frame with alpha 0.4. The same drawing is applied to robot
videos during training, so the translator learns to put the gripper where the cue says.
"""

from __future__ import annotations

import numpy as np

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _segment_mask(yy, xx, start, end, half_width):
    """Pixels within half_width of the segment start->end (coordinates (x, y))."""
    d = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    px, py = xx - start[0], yy - start[1]
    length2 = float(d @ d)
    u = np.clip((px * d[0] + py * d[1]) / length2, 0.0, 1.0) if length2 > 0 else np.zeros_like(px)
    return (px - u * d[0]) ** 2 + (py - u * d[1]) ** 2 <= half_width**2


def cue_masks(
    height: int, width: int, position, direction, *, dot_radius: float, arrow_length: float, arrow_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (dot, arrow) [H, W] for one frame. position (x, y) in pixels; direction (dx, dy)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = float(position[0]), float(position[1])
    dot = (xx - x) ** 2 + (yy - y) ** 2 <= dot_radius**2
    d = np.asarray(direction, np.float64)
    norm = np.linalg.norm(d)
    if norm == 0 or arrow_length <= 0:
        return dot, np.zeros_like(dot)
    d = d / norm
    tip = np.array([x, y]) + arrow_length * d
    head = 0.35 * arrow_length
    half = arrow_width / 2
    arrow = _segment_mask(yy, xx, (x, y), tip, half)
    for angle in (2.6, -2.6):  # two barbs at +-150 degrees from the shaft
        c, s = np.cos(angle), np.sin(angle)
        barb = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
        arrow |= _segment_mask(yy, xx, tip, tip + head * barb, half)
    return dot, arrow


def draw_gripper_cue(
    frames: np.ndarray,
    positions: np.ndarray,
    directions: np.ndarray,
    *,
    visible: np.ndarray | None = None,
    alpha: float = 0.4,
    dot_radius: float | None = None,
    arrow_length: float | None = None,
    arrow_width: float | None = None,
) -> np.ndarray:
    """Blend the cue into uint8 frames [T, H, W, 3]: red dot at positions [T, 2] (x, y pixels), blue arrow
    along directions [T, 2]; frames with visible[t] False are left unchanged. Sizes default to fractions
    of the shorter image side (dot radius 2.5%, arrow 12% long, 1.5% wide)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got shape {frames.shape}")
    t, h, w, _ = frames.shape
    positions = np.asarray(positions, np.float64).reshape(t, 2)
    directions = np.asarray(directions, np.float64).reshape(t, 2)
    visible = np.ones(t, bool) if visible is None else np.asarray(visible, bool).reshape(t)
    side = min(h, w)
    dot_radius = 0.025 * side if dot_radius is None else dot_radius
    arrow_length = 0.12 * side if arrow_length is None else arrow_length
    arrow_width = max(1.0, 0.015 * side) if arrow_width is None else arrow_width
    out = frames.astype(np.float32).copy()
    for i in range(t):
        if not visible[i] or not np.all(np.isfinite(positions[i])):
            continue
        dot, arrow = cue_masks(h, w, positions[i], directions[i], dot_radius=dot_radius, arrow_length=arrow_length, arrow_width=arrow_width)
        for mask, colour in ((arrow & ~dot, BLUE), (dot, RED)):
            out[i][mask] = (1 - alpha) * out[i][mask] + alpha * np.asarray(colour, np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
