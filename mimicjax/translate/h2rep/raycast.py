"""A numpy ray caster for MuJoCo scenes made of primitive geoms (no OpenGL needed).

The H2Rep dataset needs, besides the image, exactly which pixels show the robot and the same scene with
the robot hidden; a ray caster gives both for free and runs wherever numpy does (CI has no GPU or GL).
Each geom is intersected only with the rays inside the screen rectangle of its bounding sphere, so a small
gripper costs a few thousand rays, not the whole image. Shading: Lambert with one directional light and
ambient, a checker texture on chosen geoms, no shadows (so hiding a geom changes only the pixels it
covered), supersampling for anti-aliasing.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

import mujoco
import numpy as np

from mimicjax.translate.h2rep.camera import Camera

PLANE = int(mujoco.mjtGeom.mjGEOM_PLANE)
SPHERE = int(mujoco.mjtGeom.mjGEOM_SPHERE)
CAPSULE = int(mujoco.mjtGeom.mjGEOM_CAPSULE)
ELLIPSOID = int(mujoco.mjtGeom.mjGEOM_ELLIPSOID)
CYLINDER = int(mujoco.mjtGeom.mjGEOM_CYLINDER)
BOX = int(mujoco.mjtGeom.mjGEOM_BOX)
SUPPORTED = (PLANE, SPHERE, CAPSULE, ELLIPSOID, CYLINDER, BOX)

LIGHT_DIRECTION = (-0.35, 0.25, -1.0)  # direction the light travels (world), from above, front-left
SKY_LOW, SKY_HIGH = np.array([0.80, 0.84, 0.90], np.float32), np.array([0.55, 0.66, 0.82], np.float32)
EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class Rendering:
    image: np.ndarray  # (H, W, 3) uint8
    geom: np.ndarray  # (H, W) int32: geom id at the pixel (majority of its samples), -1 where nothing
    samples: np.ndarray  # (H, W, S*S) int32: geom id of every supersample

    def covers(self, geoms: Iterable[int]) -> np.ndarray:
        """(H, W) bool: pixels where any sample shows one of `geoms` (the whole anti-aliased edge)."""
        return np.isin(self.samples, np.asarray(list(geoms), np.int32)).any(axis=-1)


def supersampled(camera: Camera, factor: int) -> Camera:
    """The camera with `factor` x `factor` samples per pixel, spread evenly over each pixel's area."""
    k = camera.intrinsics.copy()
    k[:2, :2] *= factor
    k[:2, 2] = factor * (k[:2, 2] + 0.5) - 0.5
    return Camera(camera.width * factor, camera.height * factor, k, camera.world_to_camera)


class Raycaster:
    """Renders MuJoCo geoms seen by a fixed camera; the rays are computed once and reused per frame."""

    def __init__(
        self,
        camera: Camera,
        supersample: int = 2,
        *,
        checker: Mapping[int, tuple[float, float]] | None = None,
        light_direction=LIGHT_DIRECTION,
        ambient: float = 0.38,
        chunk_rays: int = 1 << 16,
    ):
        if int(supersample) < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self.camera = camera
        self.supersample = int(supersample)
        self.sample_camera = supersampled(camera, self.supersample)
        self.origin, directions = self.sample_camera.rays()  # (3,), (Hs, Ws, 3)
        # x, y, z of the unit directions as separate contiguous float32 planes: every per-geom rectangle
        # is then a view, and float32 halves the memory traffic (hits stay well within a millimetre).
        self.components = [np.ascontiguousarray(directions[..., j], np.float32) for j in range(3)]
        # checker: geom id -> (square size in metres, contrast in [0, 1])
        self.checker = dict(checker or {})
        light = np.asarray(light_direction, np.float64)
        self.to_light = -light / np.linalg.norm(light)
        self.ambient = float(ambient)
        self.band_rows = max(1, int(chunk_rays) // self.sample_camera.width)

    def render(
        self, model: mujoco.MjModel, data: mujoco.MjData, *, hidden: Iterable[int] = (), pixels=None
    ) -> Rendering:
        """Render the geoms at their poses in `data` (geom_xpos / geom_xmat, so run mj_kinematics first).

        `hidden`: geom ids left out. `pixels`: optional (H, W) bool; only the rectangle around these
        pixels is traced (the rest is returned as sky, geom -1), for re-rendering a small region.
        """
        cam = self.sample_camera
        hs, ws, s = cam.height, cam.width, self.supersample
        region = (0, hs, 0, ws)
        if pixels is not None:
            pixels = np.asarray(pixels, bool)
            expected = (self.camera.height, self.camera.width)
            if pixels.shape != expected:
                raise ValueError(f"pixels must have shape {expected}, got {pixels.shape}")
            rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
            if len(rows) == 0:
                region = (0, 0, 0, 0)
            else:
                region = (rows[0] * s, (rows[-1] + 1) * s, cols[0] * s, (cols[-1] + 1) * s)
        geoms = self._visible_geoms(model, data, set(int(g) for g in hidden), region)

        rgb = np.empty((hs, ws, 3), np.float32)
        rgb[:] = SKY_LOW
        ids = np.full((hs, ws), -1, np.int32)
        y0, y1, x0, x1 = region
        band_rows = max(1, self.band_rows * ws // max(x1 - x0, 1))  # same rays per band for a narrow region
        for r0 in range(y0, y1, band_rows):
            r1 = min(y1, r0 + band_rows)
            rgb[r0:r1, x0:x1], ids[r0:r1, x0:x1] = self._render_band(model, geoms, r0, r1, x0, x1)

        image = sum(rgb[i::s, j::s] for i in range(s) for j in range(s)) * np.float32(255.0 / (s * s))
        image = np.clip(np.round(image), 0, 255).astype(np.uint8)
        samples = ids.reshape(self.camera.height, s, self.camera.width, s).transpose(0, 2, 1, 3)
        samples = samples.reshape(self.camera.height, self.camera.width, s * s)
        return Rendering(image=image, geom=_majority(samples), samples=np.ascontiguousarray(samples))

    # ---- per frame -------------------------------------------------------------------------------

    def _visible_geoms(self, model, data, hidden, region):
        """(id, type, size, position, rotation, screen rectangle) of every geom worth tracing."""
        y0, y1, x0, x1 = region
        out = []
        for g in range(model.ngeom):
            kind = int(model.geom_type[g])
            if g in hidden or model.geom_rgba[g, 3] <= 0:
                continue
            if kind not in SUPPORTED:
                name = model.geom(g).name or f"#{g}"
                raise ValueError(f"geom {name} is a {mujoco.mjtGeom(kind).name}, which the ray caster does not draw "
                                 "(planes, spheres, capsules, ellipsoids, cylinders and boxes); hide it or make it transparent")
            position = np.array(data.geom_xpos[g], np.float64)
            rotation = np.array(data.geom_xmat[g], np.float64).reshape(3, 3)
            size = np.array(model.geom_size[g], np.float64)
            rect = self._screen_rect(kind, position, rotation, size, float(model.geom_rbound[g]))
            rect = (max(rect[0], y0), min(rect[1], y1), max(rect[2], x0), min(rect[3], x1))
            if rect[0] < rect[1] and rect[2] < rect[3]:
                out.append((g, kind, size, position, rotation, rect))
        return out

    def _screen_rect(self, kind, position, rotation, size, rbound):
        """Rows and columns (y0, y1, x0, x1) of samples that can see the geom: the projection of the cube
        around its bounding sphere (whole image for planes and geoms reaching behind the camera)."""
        cam = self.sample_camera
        full = (0, cam.height, 0, cam.width)
        if kind == PLANE or rbound <= 0:
            return full
        centre = cam.to_camera(position)
        corners = centre + rbound * np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float)
        if np.any(corners[:, 2] <= 1e-6):
            return full
        uv = cam.project_camera(corners)
        x0, y0 = np.floor(uv.min(axis=0)).astype(int)
        x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 1
        return (max(y0, 0), min(y1, cam.height), max(x0, 0), min(x1, cam.width))

    def _render_band(self, model, geoms, r0, r1, c0, c1):
        """Nearest hit and shading for the samples in rows r0:r1, columns c0:c1."""
        width = c1 - c0
        best = np.full((r1 - r0, width), np.inf, np.float32)
        ids = np.full((r1 - r0, width), -1, np.int32)
        normals = np.zeros((3, r1 - r0, width), np.float32)
        texture = np.ones((r1 - r0, width), np.float32)
        for g, kind, size, position, rotation, (y0, y1, x0, x1) in geoms:
            y0, y1 = max(y0, r0), min(y1, r1)
            if y0 >= y1:
                continue
            rays = (slice(y0, y1), slice(x0, x1))
            view = (slice(y0 - r0, y1 - r0), slice(x0 - c0, x1 - c0))
            o_local = (self.origin - position) @ rotation  # R^T (o - p)
            d_local = _to_local([c[rays] for c in self.components], rotation)
            t = _INTERSECT[kind](o_local, d_local, size)
            closer = t < best[view]
            if not closer.any():
                continue
            t_hit = t[closer]
            hit_local = [np.float32(o_local[j]) + t_hit * d_local[j][closer] for j in range(3)]
            n_local, face_uv = _normal_and_uv(kind, hit_local, size)
            best[view][closer] = t_hit  # basic slices are views: these write into the band arrays
            ids[view][closer] = g
            for j in range(3):
                normals[j][view][closer] = sum(n_local[i] * np.float32(rotation[j, i]) for i in range(3))
            texture[view][closer] = self._checker(g, face_uv) if g in self.checker else 1.0
        return self._shade(model, ids, normals, texture, self.components[2][r0:r1, c0:c1]), ids

    def _checker(self, geom, face_uv):
        square, contrast = self.checker[geom]
        parity = (np.floor(face_uv[0] / np.float32(square)) + np.floor(face_uv[1] / np.float32(square))) % 2
        return np.float32(1.0) + np.float32(contrast) * (parity - np.float32(0.5))

    def _shade(self, model, ids, normals, texture, up):
        hit = ids >= 0
        light = self.to_light.astype(np.float32)
        lambert = np.clip(normals[0] * light[0] + normals[1] * light[1] + normals[2] * light[2], 0.0, 1.0)
        intensity = texture * (np.float32(self.ambient) + np.float32(1.0 - self.ambient) * lambert)
        palette = np.vstack([model.geom_rgba[:, :3], [[0.0, 0.0, 0.0]]]).T.astype(np.float32)  # id -1 -> last
        out = np.empty(ids.shape + (3,), np.float32)
        for c in range(3):
            out[..., c] = np.take(palette[c], ids) * intensity
        if not hit.all():
            blend = (0.5 * (np.clip(up[~hit], -1.0, 1.0) + 1.0))[:, None]
            out[~hit] = SKY_LOW * (1 - blend) + SKY_HIGH * blend
        return out


def render(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    camera: Camera,
    *,
    supersample: int = 2,
    hidden: Iterable[int] = (),
    checker: Mapping[int, tuple[float, float]] | None = None,
) -> Rendering:
    """One-off rendering; build a `Raycaster` once to render many frames from the same camera."""
    return Raycaster(camera, supersample, checker=checker).render(model, data, hidden=hidden)


# ---- geometry --------------------------------------------------------------------------------------
# Everything in the geom's local frame: rays o + t d with |d| = 1, o a float64 (3,) vector, d a list of
# three float32 arrays (x, y, z components, any shape). Misses are +inf.


def _to_local(d, rotation):
    """Directions in the geom frame (R^T d); skipped for geoms aligned with the world (floor, table)."""
    if np.array_equal(rotation, np.eye(3)):
        return d
    r = rotation.astype(np.float32)
    return [d[0] * r[0, j] + d[1] * r[1, j] + d[2] * r[2, j] for j in range(3)]


def _inf_unless(ok, t):
    return np.where(ok, t, np.float32(np.inf))


def _sphere_t(o, d, radius):
    b = d[0] * np.float32(o[0]) + d[1] * np.float32(o[1]) + d[2] * np.float32(o[2])
    disc = b * b - np.float32(o @ o - radius * radius)
    with np.errstate(invalid="ignore"):
        t = -b - np.sqrt(disc)
    return _inf_unless((disc >= 0) & (t > EPS), t)


def _plane(o, d, size):
    if o[2] <= 0:  # planes are one-sided, like MuJoCo's: seen from above only
        return np.full(d[2].shape, np.inf, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.float32(-o[2]) / d[2]
    ok = (d[2] < 0) & (t > EPS)
    if size[0] > 0 and size[1] > 0:  # finite plane
        with np.errstate(invalid="ignore"):
            ok &= (np.abs(np.float32(o[0]) + t * d[0]) <= size[0]) & (np.abs(np.float32(o[1]) + t * d[1]) <= size[1])
    return _inf_unless(ok, t)


def _sphere(o, d, size):
    return _sphere_t(o, d, size[0])


def _side(o, d, radius, half):
    """The lateral surface of the cylinder x^2 + y^2 = r^2, |z| <= half."""
    a = d[0] * d[0] + d[1] * d[1]
    b = d[0] * np.float32(o[0]) + d[1] * np.float32(o[1])
    disc = b * b - a * np.float32(o[0] ** 2 + o[1] ** 2 - radius * radius)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(disc)) / a
        ok = (disc >= 0) & (a > 1e-12) & (t > EPS) & (np.abs(np.float32(o[2]) + t * d[2]) <= half)
    return _inf_unless(ok, t)


def _capsule(o, d, size):
    radius, half = size[0], size[1]
    t = _side(o, d, radius, half)
    for z in (-half, half):
        t = np.minimum(t, _sphere_t(o - np.array([0.0, 0.0, z]), d, radius))
    return t


def _cylinder(o, d, size):
    radius, half = size[0], size[1]
    t = _side(o, d, radius, half)
    for z in (-half, half):
        with np.errstate(invalid="ignore", divide="ignore"):
            tc = np.float32(z - o[2]) / d[2]
            x, y = np.float32(o[0]) + tc * d[0], np.float32(o[1]) + tc * d[1]
            ok = (tc > EPS) & (x * x + y * y <= radius * radius)
        t = np.minimum(t, _inf_unless(ok, tc))
    return t


def _ellipsoid(o, d, size):
    os_ = o / size
    ds = [d[j] / np.float32(size[j]) for j in range(3)]
    a = ds[0] * ds[0] + ds[1] * ds[1] + ds[2] * ds[2]
    b = ds[0] * np.float32(os_[0]) + ds[1] * np.float32(os_[1]) + ds[2] * np.float32(os_[2])
    disc = b * b - a * np.float32(os_ @ os_ - 1.0)
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / a
    return _inf_unless((disc >= 0) & (t > EPS), t)


def _box(o, d, size):
    near = far = None
    for j in range(3):
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.float32(1.0) / d[j]  # +-inf for rays parallel to the slab
            t1, t2 = np.float32(-size[j] - o[j]) * inv, np.float32(size[j] - o[j]) * inv
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        if abs(o[j]) <= size[j]:  # inside the slab: a parallel ray (nan from 0 * inf) never leaves it
            lo, hi = np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)
        near = lo if near is None else np.maximum(near, lo)
        far = hi if far is None else np.minimum(far, hi)
    with np.errstate(invalid="ignore"):
        return _inf_unless((near <= far) & (near > EPS), near)


_INTERSECT = {PLANE: _plane, SPHERE: _sphere, CAPSULE: _capsule, ELLIPSOID: _ellipsoid, CYLINDER: _cylinder, BOX: _box}


def _normal_and_uv(kind, p, size):
    """Outward unit normals and 2-D surface coordinates (for the checker) at local hit points p (3 arrays)."""
    zero, one = np.zeros_like(p[0]), np.ones_like(p[0])
    if kind == PLANE:
        return [zero, zero, one], (p[0], p[1])
    if kind == BOX:
        gaps = np.stack([np.float32(size[j]) - np.abs(p[j]) for j in range(3)])
        axis = np.argmin(gaps, axis=0)  # the face the point lies on
        n = [np.where(axis == j, np.sign(p[j]), zero) for j in range(3)]
        u = np.where(axis == 0, p[1], p[0])
        v = np.where(axis == 2, p[1], p[2])
        return n, (u, v)
    if kind == SPHERE:
        n = list(p)
    elif kind == ELLIPSOID:
        n = [p[j] / np.float32(size[j] ** 2) for j in range(3)]
    elif kind == CAPSULE:
        n = [p[0], p[1], p[2] - np.clip(p[2], -size[1], size[1])]
    else:  # cylinder: the cap or the side, whichever surface the point is nearer
        cap = (np.float32(size[1]) - np.abs(p[2])) < (np.float32(size[0]) - np.hypot(p[0], p[1]))
        n = [np.where(cap, zero, p[0]), np.where(cap, zero, p[1]), np.where(cap, np.sign(p[2]), zero)]
    norm = np.maximum(np.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]), np.float32(1e-12))
    return [c / norm for c in n], (p[0], p[1])


def _majority(samples: np.ndarray) -> np.ndarray:
    """The most frequent id among each pixel's samples (ties: the earliest sample)."""
    if samples.shape[-1] == 1:
        return samples[..., 0].astype(np.int32)
    out = samples[..., 0].astype(np.int32)
    mixed = (samples != samples[..., :1]).any(axis=-1)  # edge pixels only
    edge = samples[mixed]
    counts = (edge[:, :, None] == edge[:, None, :]).sum(axis=-1)
    out[mixed] = edge[np.arange(len(edge)), np.argmax(counts, axis=-1)]
    return out
