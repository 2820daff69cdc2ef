"""H2Rep: the gripper cue drawn from geometry (robot poses and hands alike) and model-free removal."""

from __future__ import annotations

import numpy as np
import pytest

from mimicjax.translate.h2rep import cue as cue_lib
from mimicjax.translate.h2rep.camera import Camera, read_camera, write_camera
from mimicjax.translate.h2rep.removal import psnr, remove


def flat_track(pixels, directions, foreshortening=None, visible=None):
    pixels = np.asarray(pixels, np.float64)
    t = len(pixels)
    return cue_lib.CueTrack(
        pixels=pixels,
        directions=np.asarray(directions, np.float64),
        foreshortening=np.ones(t) if foreshortening is None else np.asarray(foreshortening, np.float64),
        visible=np.ones(t, bool) if visible is None else np.asarray(visible, bool),
    )


def camera() -> Camera:
    return Camera.look_at(160, 120, 50.0, eye=(1.2, -0.4, 0.9), target=(0.0, 0.0, 0.2))


def test_cue_is_alpha_blended_where_expected():
    frames = np.full((2, 40, 60, 3), 100, np.uint8)
    track = flat_track([[20, 10], [20, 10]], [[1, 0], [1, 0]], visible=[True, False])
    out = cue_lib.draw_cues(frames, track, dot_radius=3, arrow_length=20, arrow_width=2)
    np.testing.assert_array_equal(out[0, 10, 20], np.round(0.6 * 100 + 0.4 * np.array([255, 0, 0])))
    np.testing.assert_array_equal(out[0, 10, 33], np.round(0.6 * 100 + 0.4 * np.array([0, 0, 255])))  # on the shaft
    np.testing.assert_array_equal(out[0, 30, 5], [100, 100, 100])  # away from the cue
    np.testing.assert_array_equal(out[1], frames[1])  # invisible frame untouched
    edge = out[0, 10, 20 + 3 + 1]  # half a pixel past the dot's rim: partly covered (anti-aliased)
    assert 100 < edge[0] < 0.6 * 100 + 0.4 * 255 or edge[2] > 100
    assert out.dtype == np.uint8 and out.shape == frames.shape


def test_cue_centre_is_within_a_pixel_of_the_projected_gripper():
    cam = camera()
    rng = np.random.default_rng(0)
    positions = rng.uniform([-0.3, -0.3, 0.0], [0.3, 0.3, 0.4], (12, 3))
    rotations = np.stack([np.linalg.qr(rng.standard_normal((3, 3)))[0] for _ in range(12)])
    rotations *= np.sign(np.linalg.det(rotations))[:, None, None]
    track = cue_lib.cue_from_world_pose(positions, rotations, cam)
    assert track.visible.all()
    frames = np.full((12, cam.height, cam.width, 3), 90, np.uint8)
    drawn = cue_lib.draw_cues(frames, track)
    projected = cam.project(positions)
    for t in range(12):
        assert np.linalg.norm(cue_lib.cue_centre(frames[t], drawn[t]) - projected[t]) < 1.0


def test_arrow_is_foreshortened_and_vanishes_when_pointing_at_the_camera():
    cam = camera()
    target = np.array([0.0, 0.0, 0.2])
    to_camera = cam.to_camera(target)
    sight = to_camera / np.linalg.norm(to_camera)
    along_sight = cam.world_to_camera[:3, :3].T @ sight  # world direction of the line of sight
    across = np.cross(along_sight, [0.0, 0.0, 1.0])
    tilted = across / np.linalg.norm(across) + along_sight * np.sqrt(3.0)  # 60 degrees from across
    track = cue_lib.cue_from_camera(
        np.tile(to_camera, (3, 1)), cam.rotate_to_camera(np.stack([along_sight, across, tilted])), cam.intrinsics, cam.width, cam.height
    )
    np.testing.assert_allclose(track.foreshortening, [0.0, 1.0, 0.5], atol=1e-6)
    frames = np.full((3, cam.height, cam.width, 3), 90, np.uint8)
    blue = (cue_lib.draw_cues(frames, track)[..., 2].astype(int) - 90 > 20).sum(axis=(1, 2))
    assert blue[0] < blue[2] < blue[1]
    dot_only = cue_lib.draw_cues(frames[:1], track.__class__(track.pixels[:1], track.directions[:1], np.zeros(1), track.visible[:1]))
    assert blue[0] == (dot_only[..., 2].astype(int) - 90 > 20).sum()


def test_robot_pose_and_human_hand_draw_the_same_cue():
    cam = camera()
    rng = np.random.default_rng(1)
    positions = rng.uniform([-0.2, -0.2, 0.05], [0.2, 0.2, 0.3], (5, 3))
    rotations = np.stack([np.linalg.qr(rng.standard_normal((3, 3)))[0] for _ in range(5)])
    rotations *= np.sign(np.linalg.det(rotations))[:, None, None]
    robot = cue_lib.cue_from_world_pose(positions, rotations, cam)
    # A hand in the camera frame whose thumb and index tips straddle the gripper point and whose
    # wrist-to-knuckle axis is the approach axis.
    p_cam, a_cam = cam.to_camera(positions), cam.rotate_to_camera(rotations[:, :, 2])
    side = cam.rotate_to_camera(rotations[:, :, 1]) * 0.03
    hand = np.zeros((5, 21, 3)) + p_cam[:, None]
    hand[:, cue_lib.THUMB_TIP], hand[:, cue_lib.INDEX_TIP] = p_cam + side, p_cam - side
    hand[:, cue_lib.WRIST] = p_cam - 0.12 * a_cam
    hand[:, cue_lib.MIDDLE_MCP] = p_cam - 0.04 * a_cam
    position, approach = cue_lib.gripper_from_hand(hand)
    human = cue_lib.cue_from_camera(position, approach, cam.intrinsics, cam.width, cam.height)
    frames = np.random.default_rng(2).integers(0, 255, (5, cam.height, cam.width, 3), dtype=np.uint8)
    np.testing.assert_array_equal(cue_lib.draw_cues(frames, human), cue_lib.draw_cues(frames, robot))


def test_missing_detections_hold_or_hide():
    track = flat_track([[5, 5], [np.nan, np.nan], [np.nan, np.nan], [9, 9]], [[1, 0]] * 4, visible=[True, False, False, True])
    held = cue_lib.fill_missing(track, "hold", max_hold=1)
    np.testing.assert_array_equal(held.visible, [True, True, False, True])
    np.testing.assert_array_equal(held.pixels[1], [5, 5])
    assert cue_lib.fill_missing(track, "hide") is track
    with pytest.raises(ValueError, match="'hold' or 'hide'"):
        cue_lib.fill_missing(track, "guess")


def test_camera_file_round_trip_and_errors(tmp_path):
    cam = camera()
    loaded = read_camera(write_camera(tmp_path / "camera.json", cam))
    np.testing.assert_allclose(loaded.project([[0.1, 0.2, 0.3]]), cam.project([[0.1, 0.2, 0.3]]))
    (tmp_path / "bad.json").write_text('{"width": 4, "height": 4, "intrinsics": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}')
    with pytest.raises(ValueError, match="world_to_camera or camera_to_world"):
        read_camera(tmp_path / "bad.json")


def textured_background(height, width, seed=0):
    """Smooth random texture (so shifted copies stay comparable) in uint8."""
    import cv2

    noise = np.random.default_rng(seed).uniform(0, 255, (height // 4, width // 4, 3)).astype(np.float32)
    return np.clip(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def test_static_removal_restores_what_other_frames_show_and_inpaints_the_rest():
    t, h, w = 8, 48, 64
    background = textured_background(h, w)
    frames = np.repeat(background[None], t, axis=0)
    masks = np.zeros((t, h, w), bool)
    for i in range(t):  # an "arm" sweeping across, plus a spot it always covers
        masks[i, 10:30, 4 + 6 * i : 16 + 6 * i] = True
        masks[i, 36:40, 30:34] = True
    frames[masks] = (255, 0, 255)
    result = remove(frames, masks)
    seen = masks & result.from_other_frames
    assert psnr(result.frames, np.repeat(background[None], t, axis=0), seen) == float("inf")
    np.testing.assert_array_equal(result.never_seen, masks & ~seen)
    assert result.never_seen[:, 36:40, 30:34].all()
    truth = np.repeat(background[None], t, axis=0)
    assert psnr(result.frames, truth, result.never_seen) > psnr(frames, truth, result.never_seen) + 10
    np.testing.assert_array_equal(result.frames[~masks], frames[~masks])


def test_aligned_removal_follows_a_panning_camera():
    t, h, w = 6, 64, 96
    wide = textured_background(h, w + 2 * t, seed=3)
    backgrounds = np.stack([wide[:, 2 * i : 2 * i + w] for i in range(t)])  # 2 px pan per frame
    masks = np.zeros((t, h, w), bool)
    for i in range(t):
        masks[i, 16:48, 20 + 8 * i : 36 + 8 * i] = True
    frames = backgrounds.copy()
    frames[masks] = 0
    static = remove(frames, masks)
    aligned = remove(frames, masks, align=True)
    inside = masks & aligned.from_other_frames
    assert psnr(aligned.frames, backgrounds, inside) >= 30.0
    assert psnr(aligned.frames, backgrounds, inside) > psnr(static.frames, backgrounds, inside) + 5


def test_removal_input_errors():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="masks have shape"):
        remove(frames, np.zeros((2, 8, 9), bool))
    with pytest.raises(ValueError, match="dilation"):
        remove(frames, np.zeros((2, 8, 8), bool), dilate=-1)
    grown = remove(frames, np.pad(np.ones((2, 1, 1), bool), ((0, 0), (3, 4), (3, 4))), dilate=2)
    assert grown.never_seen[0].sum() > 1


def test_large_holes_are_inpainted_at_a_coarser_scale():
    from mimicjax.translate.h2rep import removal

    yy, xx = np.mgrid[0:256, 0:256]
    image = np.stack([xx, yy, (xx + yy) // 2], axis=-1).astype(np.uint8)  # smooth ramps
    hole = np.zeros((256, 256), bool)
    hole[40:220, 40:220] = True
    assert hole.sum() > removal.INPAINT_MAX_HOLE_PIXELS
    filled = removal.inpaint(np.where(hole[..., None], 0, image).astype(np.uint8), hole, 5)
    np.testing.assert_array_equal(filled[~hole], image[~hole])
    assert psnr(filled, image, hole) > 20


def test_dense_alignment_maps_source_pixels_to_destination():
    from mimicjax.translate.h2rep.removal import _homography_ecc

    wide = textured_background(64, 96, seed=5)
    src, dst = wide[:, 3:83], wide[:, 0:80]  # dst shows the scene 3 px further right: x_dst = x_src + 3
    gray = [np.asarray(img.mean(axis=-1), np.uint8) for img in (src, dst)]
    none = np.zeros(src.shape[:2], bool)
    h = _homography_ecc(gray[0], gray[1], none, none)
    np.testing.assert_allclose(h @ [10.0, 20.0, 1.0] / (h @ [10.0, 20.0, 1.0])[2], [13.0, 20.0, 1.0], atol=0.3)


def test_a_hand_without_wrist_or_knuckle_shows_no_cue():
    cam = camera()
    track = cue_lib.cue_from_camera([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0], [np.nan, 0.0, 0.0]], cam.intrinsics, cam.width, cam.height)
    np.testing.assert_array_equal(track.visible, [True, False])
