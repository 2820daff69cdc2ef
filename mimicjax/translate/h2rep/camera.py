"""Pinhole cameras (OpenCV convention: x right, y down, z forward; pixel centres at integer
coordinates) and their JSON files.

    {"width": 640, "height": 480,
     "intrinsics": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
     "world_to_camera": [[...4x4...]]}          # or "camera_to_world"

"world" is whatever frame the poses are given in (a robot's base frame for DROID-style poses).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Camera:
    width: int
    height: int
    intrinsics: np.ndarray  # (3, 3)
    world_to_camera: np.ndarray  # (4, 4) rigid

    def __post_init__(self):
        k = np.asarray(self.intrinsics, np.float64)
        t = np.asarray(self.world_to_camera, np.float64)
        if k.shape != (3, 3) or not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ValueError(f"camera intrinsics must be a finite 3x3 matrix with positive focal lengths, got {k.tolist()}")
        if t.shape != (4, 4) or not np.all(np.isfinite(t)):
            raise ValueError(f"camera extrinsics must be a finite 4x4 matrix, got shape {t.shape}")
        rotation = t[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4) or np.linalg.det(rotation) < 0:
            raise ValueError("camera extrinsics: the top-left 3x3 block must be a rotation (orthonormal, det +1)")
        if int(self.width) < 1 or int(self.height) < 1:
            raise ValueError(f"camera width and height must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "intrinsics", k)
        object.__setattr__(self, "world_to_camera", t)

    @classmethod
    def look_at(cls, width: int, height: int, fov_y_deg: float, eye, target, up=(0.0, 0.0, 1.0)) -> Camera:
        """A camera at `eye` looking at `target` (world z up), square pixels, centred principal point."""
        eye, target, up = (np.asarray(v, np.float64) for v in (eye, target, up))
        forward = target - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])  # rows: camera axes in world
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3], world_to_camera[:3, 3] = rotation, -rotation @ eye
        f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
        intrinsics = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
        return cls(width, height, intrinsics, world_to_camera)

    def to_camera(self, points) -> np.ndarray:
        """World points (..., 3) in the camera frame."""
        points = np.asarray(points, np.float64)
        return points @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]

    def rotate_to_camera(self, vectors) -> np.ndarray:
        """World directions (..., 3) in the camera frame."""
        return np.asarray(vectors, np.float64) @ self.world_to_camera[:3, :3].T

    def project_camera(self, points_camera) -> np.ndarray:
        """Camera-frame points (..., 3) -> pixel coordinates (..., 2) (x, y); NaN behind the camera."""
        p = np.asarray(points_camera, np.float64)
        z = p[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = (p[..., :2] / z[..., None]) * np.diag(self.intrinsics)[:2] + self.intrinsics[:2, 2]
        return np.where((z > 1e-6)[..., None], uv, np.nan)

    def project(self, points) -> np.ndarray:
        """World points (..., 3) -> pixel coordinates (..., 2); NaN behind the camera."""
        return self.project_camera(self.to_camera(points))

    def rays(self) -> tuple[np.ndarray, np.ndarray]:
        """(origin (3,), unit directions (H, W, 3)) in world coordinates through every pixel centre."""
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)  # centres at integers (OpenCV)
        fx, fy, cx, cy = self.intrinsics[0, 0], self.intrinsics[1, 1], self.intrinsics[0, 2], self.intrinsics[1, 2]
        d = np.stack([(xs - cx) / fx, (ys - cy) / fy, np.ones_like(xs)], axis=-1)
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        rotation = self.world_to_camera[:3, :3]
        origin = -rotation.T @ self.world_to_camera[:3, 3]
        return origin, d @ rotation

    def to_json(self) -> dict:
        return {
            "width": int(self.width),
            "height": int(self.height),
            "intrinsics": self.intrinsics.tolist(),
            "world_to_camera": self.world_to_camera.tolist(),
        }


def read_camera(path: str | Path) -> Camera:
    """A camera from its JSON file (see the module docstring)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no camera file at {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a JSON camera file ({error})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object with width, height, intrinsics and world_to_camera")
    missing = [key for key in ("width", "height", "intrinsics") if key not in raw]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)} (see mimicjax.translate.h2rep.camera for the format)")
    try:
        if "world_to_camera" in raw:
            extrinsics = np.asarray(raw["world_to_camera"], np.float64)
        elif "camera_to_world" in raw:
            extrinsics = np.linalg.inv(np.asarray(raw["camera_to_world"], np.float64))
        else:
            raise ValueError("give world_to_camera or camera_to_world (a 4x4 matrix)")
        return Camera(int(raw["width"]), int(raw["height"]), np.asarray(raw["intrinsics"], np.float64), extrinsics)
    except (ValueError, TypeError, np.linalg.LinAlgError) as error:
        raise ValueError(f"{path}: {error}") from None


def write_camera(path: str | Path, camera: Camera) -> Path:
    from mimicjax.io_utils import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(camera.to_json(), indent=1) + "\n")
    return path
