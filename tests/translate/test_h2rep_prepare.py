"""H2Rep inputs (the files segmentation, pose and hand tools write) and `translate prepare` end to end."""

from __future__ import annotations

import json

import imageio.v2 as imageio
import numpy as np
import pytest

from mimicjax.translate.h2rep import cue as cue_lib
from mimicjax.translate.h2rep.camera import Camera, write_camera
from mimicjax.translate.h2rep.inputs import read_frames, read_gripper_poses, read_hand_keypoints, read_masks
from mimicjax.translate.h2rep.prepare import camera_for_video, prepare_human, prepare_robot
from tests.conftest import reference_file

T, H, W = 4, 24, 32


def square_masks():
    masks = np.zeros((T, H, W), bool)
    for t in range(T):
        masks[t, 4:12, 2 + 5 * t : 10 + 5 * t] = True
    return masks


def test_mask_formats_read_alike(tmp_path):
    from PIL import Image

    masks = square_masks()
    ids = masks.astype(np.uint8) * 2  # object id 2, as SAM2 writes palette PNGs
    (tmp_path / "sam2").mkdir()
    for t in range(T):
        image = Image.fromarray(ids[t], mode="P")
        image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
        image.save(tmp_path / "sam2" / f"{t:05d}.png")
    for obj in ("001", "002"):  # per-object folders: object 1 empty
        (tmp_path / "per_object" / obj).mkdir(parents=True)
        for t in range(T):
            imageio.imwrite(tmp_path / "per_object" / obj / f"{t:05d}.png", (masks[t] if obj == "002" else 0 * masks[t]).astype(np.uint8) * 255)
    (tmp_path / "grounded").mkdir()
    for t in range(T):
        np.save(tmp_path / "grounded" / f"mask_{t:05d}.npy", ids[t].astype(np.uint16))
    np.savez(tmp_path / "masks.npz", masks=masks)
    for source in ("sam2", "per_object", "grounded", "masks.npz"):
        np.testing.assert_array_equal(read_masks(tmp_path / source, T, H, W), masks, err_msg=source)
    np.testing.assert_array_equal(read_masks(tmp_path / "sam2", T, H, W, ids=[2]), masks)
    with pytest.raises(ValueError, match="no pixel has any of the mask ids"):
        read_masks(tmp_path / "sam2", T, H, W, ids=[1])
    with pytest.raises(ValueError, match="masks are 32x24, the video 33x24"):
        read_masks(tmp_path / "masks.npz", T, H, W + 1)
    with pytest.raises(ValueError, match="4 masks for 5 video frames"):
        read_masks(tmp_path / "masks.npz", T + 1, H, W)


def test_frame_folder_and_video_read(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (T, H, W, 3), dtype=np.uint8)
    (tmp_path / "frames").mkdir()
    for t in range(T):
        imageio.imwrite(tmp_path / "frames" / f"{t:03d}.png", frames[t])
    read, fps = read_frames(tmp_path / "frames")
    np.testing.assert_array_equal(read, frames)
    assert fps is None
    with pytest.raises(FileNotFoundError, match="no video or frame folder"):
        read_frames(tmp_path / "nothing")


def test_gripper_pose_formats_agree(tmp_path):
    rng = np.random.default_rng(0)
    angles = rng.uniform(-1, 1, (5, 3))
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_euler("xyz", angles)  # DROID: extrinsic x-y-z
    position = rng.uniform(-0.5, 0.5, (5, 3))
    np.savez(tmp_path / "droid.npz", cartesian_position=np.concatenate([position, angles], axis=1))
    np.savez(tmp_path / "quat.npz", position=position, quaternion=np.roll(rotation.as_quat(), 1, axis=1))
    (tmp_path / "xyzw.json").write_text(json.dumps({"position": position.tolist(), "quaternion_xyzw": rotation.as_quat().tolist()}))
    np.savez(tmp_path / "matrix.npz", position=position, rotation=rotation.as_matrix())
    for name in ("droid.npz", "quat.npz", "xyzw.json", "matrix.npz"):
        poses = read_gripper_poses(tmp_path / name)
        np.testing.assert_allclose(poses.rotation, rotation.as_matrix(), atol=1e-9, err_msg=name)
        np.testing.assert_allclose(poses.position, position, err_msg=name)
    bad = position.copy()
    bad[3] = np.nan
    np.savez(tmp_path / "nan.npz", position=bad, rotation=rotation.as_matrix())
    with pytest.raises(ValueError, match=r"non-finite 'pose' in frame\(s\) \[3\]"):
        read_gripper_poses(tmp_path / "nan.npz")
    np.savez(tmp_path / "noori.npz", position=position)
    with pytest.raises(ValueError, match="no orientation"):
        read_gripper_poses(tmp_path / "noori.npz")


def test_hand_keypoint_formats(tmp_path):
    rng = np.random.default_rng(1)
    points = rng.uniform(-0.1, 0.1, (3, 21, 3)) + [0, 0, 0.6]
    offset = np.array([[0.01, 0.02, 0.5]] * 3)
    np.savez(tmp_path / "hamer.npz", pred_keypoints_3d=points - offset[:, None], pred_cam_t_full=offset, scaled_focal_length=500.0,
             right=1.0)
    hands = read_hand_keypoints(tmp_path / "hamer.npz", W, H)
    np.testing.assert_allclose(hands.points, points)
    assert hands.space == "camera" and list(hands.focal_length) == [500.0, 500.0]
    landmarks = [[{"x": 0.5, "y": 0.25, "z": -0.01}] * 21, None, [[0.1, 0.2, 0.0]] * 21]
    (tmp_path / "mediapipe.json").write_text(json.dumps(landmarks))
    mp = read_hand_keypoints(tmp_path / "mediapipe.json", W, H)
    assert mp.space == "image"
    np.testing.assert_allclose(mp.points[0, 0], [0.5 * W - 0.5, 0.25 * H - 0.5, -0.01 * W])  # pixel centres at integers
    np.testing.assert_array_equal(mp.found, [True, False, True])
    # Left hands come mirrored from the models (predicted on a flipped crop): x is negated back.
    np.savez(tmp_path / "left.npz", pred_keypoints_3d=points - offset[:, None], pred_cam_t_full=offset, right=np.array([1.0, 0.0, 1.0]))
    left = read_hand_keypoints(tmp_path / "left.npz", W, H).points
    np.testing.assert_allclose(left[[0, 2]], points[[0, 2]])
    np.testing.assert_allclose(left[1, :, 0], -(points[1, :, 0] - offset[1, 0]) + offset[1, 0])
    np.savez(tmp_path / "nohand.npz", pred_keypoints_3d=points, pred_cam_t_full=offset)
    with pytest.raises(ValueError, match="add the models' 'right'"):
        read_hand_keypoints(tmp_path / "nohand.npz", W, H)
    (tmp_path / "pixels.json").write_text(json.dumps([[[100.0, 50.0, 0.0]] * 21]))
    with pytest.raises(ValueError, match="normalised to"):
        read_hand_keypoints(tmp_path / "pixels.json", W, H)
    np.savez(tmp_path / "other.npz", joints=points)
    with pytest.raises(ValueError, match="no hand keypoints"):
        read_hand_keypoints(tmp_path / "other.npz", W, H)


def test_camera_follows_a_proportionally_resized_video():
    cam = Camera.look_at(320, 240, 50.0, eye=(1.0, 0.0, 0.8), target=(0.0, 0.0, 0.0))
    half = camera_for_video(cam, 160, 120)
    point = [[0.1, -0.2, 0.05]]
    np.testing.assert_allclose((half.project(point) + 0.5) * 2, cam.project(point) + 0.5, atol=1e-9)
    with pytest.raises(ValueError, match="different aspect ratio"):
        camera_for_video(cam, 160, 160)


def synthetic_robot_clip(tmp_path):
    """A static textured scene, a grey "arm" square moving across, its masks, poses and camera."""
    cam = Camera.look_at(64, 48, 60.0, eye=(1.0, 0.0, 0.6), target=(0.0, 0.0, 0.0))
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    frames = np.repeat(background[None], 6, axis=0)
    masks = np.zeros((6, 48, 64), bool)
    for t in range(6):
        masks[t, 10:30, 5 + 8 * t : 15 + 8 * t] = True
    frames[masks] = 128
    (tmp_path / "masks").mkdir()
    for t in range(6):
        imageio.imwrite(tmp_path / "masks" / f"{t:05d}.png", masks[t].astype(np.uint8) * 255)
    np.savez(tmp_path / "frames.npz", video=frames)
    (tmp_path / "frames").mkdir()
    for t in range(6):
        imageio.imwrite(tmp_path / "frames" / f"{t:03d}.png", frames[t])
    position = np.stack([np.zeros(6), np.linspace(-0.15, 0.15, 6), np.full(6, 0.05)], axis=1)
    np.savez(tmp_path / "poses.npz", position=position, rotation=np.tile(np.eye(3), (6, 1, 1)))
    write_camera(tmp_path / "camera.json", cam)
    return cam, background, masks, position


def test_prepare_robot_removes_the_arm_and_draws_the_cue_at_the_gripper(tmp_path):
    cam, background, masks, position = synthetic_robot_clip(tmp_path)
    with pytest.raises(ValueError, match="no frame rate; give it"):
        prepare_robot(tmp_path / "frames", tmp_path / "poses.npz", tmp_path / "camera.json", masks=tmp_path / "masks")
    prepared = prepare_robot(tmp_path / "frames", tmp_path / "poses.npz", tmp_path / "camera.json", masks=tmp_path / "masks", fps=10)
    assert prepared.frames.shape == (6, 48, 64, 3) and prepared.track.visible.all()
    clean = np.repeat(background[None], 6, axis=0)
    expected = cue_lib.draw_cues(clean, cue_lib.cue_from_world_pose(position, np.tile(np.eye(3), (6, 1, 1)), cam))
    np.testing.assert_array_equal(prepared.frames, expected)  # removal exact here, cue at the projected pose


def test_prepare_cli_writes_a_video_and_names_missing_options(tmp_path, capsys):
    from mimicjax.cli import main

    synthetic_robot_clip(tmp_path)
    out = tmp_path / "h2rep.mp4"
    assert main(["translate", "prepare", "robot", "--video", str(tmp_path / "frames"), "--masks", str(tmp_path / "masks"),
                 "--poses", str(tmp_path / "poses.npz"), "--camera", str(tmp_path / "camera.json"), "--out", str(out),
                 "--fps", "10"]) == 0
    video, _ = read_frames(out)
    assert video.shape == (6, 48, 64, 3)
    assert main(["translate", "prepare", "robot", "--video", str(tmp_path / "frames"), "--out", str(out)]) != 0
    assert "needs --poses, --camera" in capsys.readouterr().err
    assert main(["translate", "prepare", "robot", "--video", str(tmp_path / "frames"), "--masks", str(tmp_path / "masks"),
                 "--poses", str(tmp_path / "poses.npz"), "--camera", str(tmp_path / "camera.json"), "--out", str(out),
                 "--fps", "10", "--mask-ids", "1,a"]) != 0
    assert "--mask-ids takes whole numbers" in capsys.readouterr().err
    assert main(["translate", "prepare", "robot", "--dataset", str(tmp_path), "--poses", "p.npz"]) != 0
    assert "drop --poses" in capsys.readouterr().err


def test_real_robot_video_through_prepare_robot(tmp_path):
    video = reference_file("video/robot_arms_handover.mp4")
    frames, _ = read_frames(video)
    t, h, w, _ = frames.shape
    # The test's own mask: a drawn polygon where the arms move (the right half of the table), per frame.
    import cv2

    masks = np.zeros((t, h, w), np.uint8)
    for i in range(t):
        shift = int(40 * np.sin(i / t * np.pi))
        polygon = np.array([[380 + shift, 60], [560 + shift, 80], [600, 300], [420, 320]], np.int32)
        cv2.fillPoly(masks[i], [polygon], 1)
    np.savez(tmp_path / "masks.npz", masks=masks.astype(bool))
    cam = Camera.look_at(w, h, 55.0, eye=(1.2, 0.0, 0.9), target=(0.0, 0.0, 0.0))
    write_camera(tmp_path / "camera.json", cam)
    position = np.stack([np.linspace(-0.2, 0.2, t), np.linspace(-0.3, 0.3, t), np.full(t, 0.1)], axis=1)
    np.savez(tmp_path / "poses.npz", position=position, quaternion=np.tile([1.0, 0, 0, 0], (t, 1)))
    prepared = prepare_robot(video, tmp_path / "poses.npz", tmp_path / "camera.json", masks=tmp_path / "masks.npz", dilate=3)
    from mimicjax.video import write_video

    write_video(tmp_path / "h2rep.mp4", prepared.frames, fps=prepared.fps)
    written, fps = read_frames(tmp_path / "h2rep.mp4")
    assert written.shape == frames.shape and fps == pytest.approx(10.0)
    assert prepared.track.visible.all()
    inside = masks.astype(bool)
    assert np.abs(prepared.frames[inside].astype(int) - frames[inside].astype(int)).mean() > 1  # something replaced


def test_real_human_video_through_prepare_human(tmp_path):
    video = reference_file("video/human_dribble.mp4")
    frames, _ = read_frames(video, max_frames=6)
    t, h, w, _ = frames.shape
    masks = np.zeros((t, h, w), bool)
    for i in range(t):  # a box over the person's middle, moving a little
        masks[i, h // 3 : 2 * h // 3, w // 4 + 40 * i : 3 * w // 4 + 40 * i] = True
    np.savez(tmp_path / "masks.npz", masks=masks)
    landmarks = [None if i == 3 else [[0.5 + 0.01 * i, 0.5, 0.0]] * 9 + [[0.5 + 0.01 * i, 0.4, 0.0]] * 12 for i in range(t)]
    (tmp_path / "hands.json").write_text(json.dumps(landmarks))
    prepared = prepare_human(video, tmp_path / "hands.json", masks=tmp_path / "masks.npz", max_frames=t, missing="hold")
    assert prepared.frames.shape == frames.shape
    assert prepared.track.visible.all()  # frame 3 holds frame 2's cue
    hidden = prepare_human(video, tmp_path / "hands.json", masks=tmp_path / "masks.npz", max_frames=t, missing="hide")
    np.testing.assert_array_equal(hidden.track.visible, [i != 3 for i in range(t)])


def test_make_data_then_prepare_dataset_then_measure(tmp_path, capsys):
    from mimicjax.cli import main
    from mimicjax.translate.h2rep.bench import quality

    data = tmp_path / "data"
    assert main(["translate", "make-data", "--out", str(data), "--videos", "1", "--size", "64x48", "--frames", "5",
                 "--human", "--supersample", "1"]) == 0
    clips = sorted(p.name for p in data.iterdir())
    assert len(clips) == 2 and sum(name.startswith("human_") for name in clips) == 1
    assert main(["translate", "prepare", "robot", "--dataset", str(data)]) == 0
    assert not any((data / clip / "h2rep.mp4").exists() for clip in clips if clip.startswith("human_"))
    assert main(["translate", "prepare", "human", "--dataset", str(data)]) == 0
    for clip in clips:
        video, _ = read_frames(data / clip / "h2rep.mp4")
        assert video.shape == (5, 48, 64, 3)
    report = quality(data)
    assert report["clips"] == 2
    assert report["cue_centre_error_px"]["max"] < 1.0
    # At this tiny size the arm covers much of what it moves; the bench measures quality at 320x240.
    from mimicjax.translate.h2rep.removal import psnr

    with np.load(data / clips[-1] / "frames.npz") as frames:
        untouched = psnr(frames["video"], frames["background"], frames["masks"])
    assert report["removal_psnr_seen_db"] > untouched + 8
    capsys.readouterr()
    assert main(["translate", "make-data", "--out", str(data), "--size", "64by48"]) != 0
    assert "--size must look like 320x240" in capsys.readouterr().err
