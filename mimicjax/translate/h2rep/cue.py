"""H2Rep's gripper cue: a red dot where the gripper is and a blue arrow along its approach axis.

H2R-Grounder removes the arm (robot videos) or the person (human videos) and draws this cue in their
place, alpha-blended at 0.4, so both domains look alike to the translator. Robot and human inputs go
through the same two steps, which is what makes the two domains match:

1. geometry -> `CueTrack` (per frame: pixel position, unit image direction of the approach axis, its
   foreshortening, visibility): `cue_from_camera` for 3-D points in a camera frame (robot poses, HaMeR /
   WiLoR hands), `cue_from_image_points` for image points with relative depth (MediaPipe hands);
2. `draw_cues` draws the track: anti-aliased (coverage from signed distances), sizes relative to the
   image. The arrow's length is `arrow_length` times the foreshortening, so it shrinks to nothing when
   the gripper points at the camera.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

RED = (255, 0, 0)
BLUE = (0, 0, 255)
ALPHA = 0.4
MissingPolicy = Literal["hold", "hide"]


@dataclasses.dataclass(frozen=True)
class CueTrack:
    """The cue of every frame. Frames with `visible` False are drawn without a cue."""

    pixels: np.ndarray  # (T, 2) x, y
    directions: np.ndarray  # (T, 2) unit vectors in the image (x right, y down)
    foreshortening: np.ndarray  # (T,) in [0, 1]: 1 across the view, 0 pointing along the line of sight
    visible: np.ndarray  # (T,) bool

    def __len__(self) -> int:
        return len(self.visible)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 1e-12, v / norm, 0.0)


def _inside(pixels, width, height):
    """Pixel positions (x, y) on the image (pixel centres at integers, so edges at -0.5 and size - 0.5)."""
    with np.errstate(invalid="ignore"):
        x, y = pixels[:, 0], pixels[:, 1]
        return (x >= -0.5) & (x < width - 0.5) & (y >= -0.5) & (y < height - 0.5)


def cue_from_camera(positions, approach, intrinsics, width: int, height: int) -> CueTrack:
    """Cue of 3-D gripper positions (T, 3) and approach axes (T, 3), both in a camera frame (OpenCV axes).

    The image direction is that of the projected axis at the gripper (the projection's derivative), the
    foreshortening is how much of the unit axis is perpendicular to the line of sight.
    """
    p = np.asarray(positions, np.float64).reshape(-1, 3)
    raw = np.asarray(approach, np.float64).reshape(-1, 3)
    finite = np.all(np.isfinite(p), axis=1) & np.all(np.isfinite(raw), axis=1)  # before _unit zeroes NaNs
    a = _unit(np.nan_to_num(raw))
    k = np.asarray(intrinsics, np.float64)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    in_front = finite & (z > 1e-6)
    zs = np.where(in_front, z, 1.0)
    pixels = np.stack([fx * x / zs + cx, fy * y / zs + cy], axis=1)
    # d(u, v)/dt along p + t a, up to the positive factor 1/z.
    image_dir = np.stack([fx * (a[:, 0] - x / zs * a[:, 2]), fy * (a[:, 1] - y / zs * a[:, 2])], axis=1)
    sight = _unit(p)
    across = a - np.sum(a * sight, axis=1, keepdims=True) * sight
    visible = in_front & _inside(pixels, width, height)
    return CueTrack(
        pixels=np.where(in_front[:, None], pixels, np.nan),
        directions=_unit(np.nan_to_num(image_dir)),
        foreshortening=np.clip(np.linalg.norm(np.nan_to_num(across), axis=1), 0.0, 1.0),
        visible=visible,
    )


def cue_from_world_pose(positions, rotations, camera, approach_axis: int = 2) -> CueTrack:
    """Cue of gripper poses in the world (robot base) frame: positions (T, 3), rotations (T, 3, 3) whose
    column `approach_axis` is the approach direction, seen by `camera` (`camera.Camera`)."""
    rotations = np.asarray(rotations, np.float64).reshape(-1, 3, 3)
    return cue_from_camera(
        camera.to_camera(positions), camera.rotate_to_camera(rotations[:, :, approach_axis]),
        camera.intrinsics, camera.width, camera.height,
    )


def cue_from_image_points(pixels, directions_3d, width: int, height: int) -> CueTrack:
    """Cue of image positions (T, 2) with approach directions (T, 3) = (dx, dy, dz) in pixel units, dz
    towards the camera's depth (e.g. MediaPipe's relative depth times the image width)."""
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    d = np.asarray(directions_3d, np.float64).reshape(-1, 3)
    finite = np.all(np.isfinite(pixels), axis=1) & np.all(np.isfinite(d), axis=1)
    unit = _unit(np.nan_to_num(d))
    visible = finite & _inside(pixels, width, height)
    return CueTrack(
        pixels=np.where(finite[:, None], pixels, np.nan),
        directions=_unit(unit[:, :2]),
        foreshortening=np.clip(np.linalg.norm(unit[:, :2], axis=1), 0.0, 1.0),
        visible=visible,
    )


def fill_missing(track: CueTrack, policy: MissingPolicy = "hold", max_hold: int | None = None) -> CueTrack:
    """What to draw where the gripper or hand was not found (non-finite input, off-image).

    "hide": no cue on those frames. "hold": the last visible cue stays, for at most `max_hold` frames
    (None: until the next detection); frames before the first detection stay hidden.
    """
    if policy == "hide":
        return track
    if policy != "hold":
        raise ValueError(f"missing-detection policy must be 'hold' or 'hide', got {policy!r}")
    pixels, directions = track.pixels.copy(), track.directions.copy()
    foreshortening, visible = track.foreshortening.copy(), track.visible.copy()
    last, held = None, 0
    for t in range(len(visible)):
        if track.visible[t]:
            last, held = t, 0
        elif last is not None and (max_hold is None or held < max_hold):
            pixels[t], directions[t], foreshortening[t], visible[t] = pixels[last], directions[last], foreshortening[last], True
            held += 1
    return CueTrack(pixels, directions, foreshortening, visible)


def _segment_distance(xx, yy, start, end):
    """Distance of pixel centres to the segment start -> end (x, y)."""
    d = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    px, py = xx - start[0], yy - start[1]
    length2 = float(d @ d)
    u = np.clip((px * d[0] + py * d[1]) / length2, 0.0, 1.0) if length2 > 0 else np.zeros_like(px)
    return np.hypot(px - u * d[0], py - u * d[1])


def cue_coverage(height: int, width: int, pixel, direction, length: float, *, dot_radius: float, arrow_width: float):
    """(dot, arrow) coverage in [0, 1] of every pixel [H, W] for one cue: anti-aliased over one pixel.

    The arrow is a shaft from the dot's centre to the tip and two barbs at +-150 degrees (35 % of its
    length). Pixel (row i, column j) has its centre at (x, y) = (j, i), as in OpenCV.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = float(pixel[0]), float(pixel[1])
    dot = np.clip(dot_radius + 0.5 - np.hypot(xx - x, yy - y), 0.0, 1.0)
    d = np.asarray(direction, np.float64)
    if length <= 0.5 or not np.any(d):
        return dot, np.zeros_like(dot)
    tip = np.array([x, y]) + length * d
    distance = _segment_distance(xx, yy, (x, y), tip)
    for angle in (2.6, -2.6):
        c, s = np.cos(angle), np.sin(angle)
        barb = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
        distance = np.minimum(distance, _segment_distance(xx, yy, tip, tip + 0.35 * length * barb))
    arrow = np.clip(arrow_width / 2 + 0.5 - distance, 0.0, 1.0)
    return dot, arrow


def cue_sizes(height: int, width: int, dot_radius=None, arrow_length=None, arrow_width=None):
    """Default sizes as fractions of the shorter image side: dot radius 2.5 %, arrow 12 % long, 1.5 % wide."""
    side = min(height, width)
    return (
        0.025 * side if dot_radius is None else float(dot_radius),
        0.12 * side if arrow_length is None else float(arrow_length),
        max(1.0, 0.015 * side) if arrow_width is None else float(arrow_width),
    )


def draw_cues(
    frames: np.ndarray,
    track: CueTrack,
    *,
    alpha: float = ALPHA,
    dot_radius: float | None = None,
    arrow_length: float | None = None,
    arrow_width: float | None = None,
) -> np.ndarray:
    """Blend the cue of every visible frame of `track` into uint8 frames [T, H, W, 3] (a new array)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got shape {frames.shape}")
    if len(track) != frames.shape[0]:
        raise ValueError(f"the cue track has {len(track)} frames, the video {frames.shape[0]}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"cue alpha must be in [0, 1], got {alpha}")
    _, h, w, _ = frames.shape
    dot_radius, arrow_length, arrow_width = cue_sizes(h, w, dot_radius, arrow_length, arrow_width)
    reach = int(np.ceil(dot_radius + arrow_length + arrow_width + 2))
    out = frames.copy()
    red, blue = np.asarray(RED, np.float32), np.asarray(BLUE, np.float32)
    for t in np.flatnonzero(track.visible):
        x, y = track.pixels[t]
        # Only the window around the cue is touched: drawing costs the same at any resolution.
        x0, x1 = max(0, int(x) - reach), min(w, int(x) + reach + 1)
        y0, y1 = max(0, int(y) - reach), min(h, int(y) + reach + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        dot, arrow = cue_coverage(
            y1 - y0, x1 - x0, (x - x0, y - y0), track.directions[t], arrow_length * float(track.foreshortening[t]),
            dot_radius=dot_radius, arrow_width=arrow_width,
        )
        patch = out[t, y0:y1, x0:x1].astype(np.float32)
        a_arrow = (alpha * arrow * (1.0 - dot))[..., None]
        patch = (1.0 - a_arrow) * patch + a_arrow * blue
        a_dot = (alpha * dot)[..., None]
        patch = (1.0 - a_dot) * patch + a_dot * red
        out[t, y0:y1, x0:x1] = np.clip(np.round(patch), 0, 255).astype(np.uint8)
    return out


def cue_centre(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Where a drawn dot is: the centroid (x, y) of the red blend weight, from one frame before and
    after drawing. Used to check drawing against geometry.

    Each pixel's change is unmixed into its red (dot) and blue (arrow) blend weights by least squares,
    after - before = a_red (red - before) + a_blue (blue - before), so the background's colour (a red or
    yellow object under the dot) does not bias the centre.
    """
    x0 = before.astype(np.float64)
    change = after.astype(np.float64) - x0
    to_red, to_blue = np.asarray(RED, np.float64) - x0, np.asarray(BLUE, np.float64) - x0
    # Normal equations of the 3 x 2 system per pixel.
    rr, bb, rb = (to_red * to_red).sum(-1), (to_blue * to_blue).sum(-1), (to_red * to_blue).sum(-1)
    rc, bc = (to_red * change).sum(-1), (to_blue * change).sum(-1)
    det = rr * bb - rb * rb
    with np.errstate(invalid="ignore", divide="ignore"):
        a_red = np.where(np.abs(det) > 1e-9, (bb * rc - rb * bc) / det, 0.0)
    weight = np.clip(np.nan_to_num(a_red), 0.0, None) * (np.abs(change).sum(-1) > 0)
    if weight.sum() <= 0:
        return np.full(2, np.nan)
    yy, xx = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]].astype(np.float64)
    return np.array([(weight * xx).sum(), (weight * yy).sum()]) / weight.sum()


# Hand keypoints in the MANO / OpenPose order that HaMeR, WiLoR and MediaPipe Hands share.
WRIST, THUMB_TIP, INDEX_TIP, MIDDLE_MCP = 0, 4, 8, 9


def gripper_from_hand(keypoints) -> tuple[np.ndarray, np.ndarray]:
    """The gripper a hand stands for: (position, approach) per frame from keypoints (T, 21, D).

    Position: midway between thumb and index tips (where a parallel gripper's fingers meet). Approach:
    from the wrist towards the middle finger's knuckle (the hand's forward axis), not normalised.
    Works for 3-D camera-frame points and for image points with relative depth alike.
    """
    k = np.asarray(keypoints, np.float64)
    if k.ndim != 3 or k.shape[1] != 21:
        raise ValueError(f"hand keypoints must be (frames, 21, dims), got shape {k.shape}")
    return 0.5 * (k[:, THUMB_TIP] + k[:, INDEX_TIP]), k[:, MIDDLE_MCP] - k[:, WRIST]
