"""The rendered H2Rep dataset: the ray caster against analytic geometry, the scripted scene, and the
files of a tiny dataset (64x48, 6 frames, one sample per pixel)."""

from __future__ import annotations

import json

import mujoco
import numpy as np
import pytest

from mimicjax.translate.h2rep import scene as scene_lib
from mimicjax.translate.h2rep.camera import Camera, read_camera
from mimicjax.translate.h2rep.dataset import make_dataset
from mimicjax.translate.h2rep.raycast import Raycaster

W, H, T = 64, 48, 6


def posed(xml: str):
    model = mujoco.MjModel.from_xml_string(f'<mujoco><compiler angle="radian"/><worldbody>{xml}</worldbody></mujoco>')
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return model, data


def head_on(distance=2.0, width=W, height=H, fov=40.0) -> Camera:
    """On the -y axis looking at the origin (image x = world x, image y = world -z)."""
    return Camera.look_at(width, height, fov, eye=(0.0, -distance, 0.0), target=(0.0, 0.0, 0.0))


def pixel_rays(camera):
    origin, directions = camera.rays()
    return origin, directions


def distance_to_mask(mask: np.ndarray, xy) -> float:
    """Pixels from (x, y) (rounded) to the nearest True pixel of `mask`."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.inf
    x, y = np.round(np.asarray(xy, float)).astype(int)
    return float(np.sqrt((xs - x) ** 2 + (ys - y) ** 2).min())


# ---- ray caster -------------------------------------------------------------------------------------


def test_sphere_covers_the_analytic_disc():
    model, data = posed('<geom type="sphere" size="0.3" pos="0.1 0 0.05" rgba="1 0 0 1"/>')
    camera = head_on()
    shot = Raycaster(camera, 1).render(model, data)
    origin, directions = pixel_rays(camera)
    centre = np.array([0.1, 0.0, 0.05]) - origin
    miss_distance = np.linalg.norm(np.cross(directions, centre), axis=-1)  # ray line to the centre
    clear = np.abs(miss_distance - 0.3) > 1e-4
    assert np.array_equal((shot.geom == 0)[clear], (miss_distance < 0.3)[clear])
    assert 100 < (shot.geom == 0).sum() < W * H / 2
    # lit red where hit, sky (not red) elsewhere
    assert (shot.image[shot.geom == 0][:, 1:] == 0).all() and (shot.image[shot.geom == 0][:, 0] > 0).all()
    assert (shot.image[shot.geom == -1][:, 2] > 100).all()


def test_sphere_shading_follows_the_near_side_normal():
    """Lambert shading of the nearest intersection: wrong depth or normals change the red channel."""
    light = np.array([0.4, 1.0, -0.3])
    model, data = posed('<geom type="sphere" size="0.3" pos="0 0 0" rgba="1 0 0 1"/>')
    camera = head_on()
    shot = Raycaster(camera, 1, light_direction=light, ambient=0.2).render(model, data)
    origin, directions = pixel_rays(camera)
    b = directions @ origin
    disc = b**2 - (origin @ origin - 0.09)
    hit = disc > 1e-3
    t = -b[hit] - np.sqrt(disc[hit])  # the near intersection
    normals = (origin + t[:, None] * directions[hit]) / 0.3
    to_light = -light / np.linalg.norm(light)
    expected = 255 * (0.2 + 0.8 * np.clip(normals @ to_light, 0, 1))
    assert (shot.geom[hit] == 0).all()
    assert np.abs(shot.image[hit][:, 0] - expected).max() <= 1.0


def test_rotated_box_shows_its_front_face():
    """Seen head-on from in front, a box's outline is its front face (the sides face away)."""
    angle = 0.5  # about the viewing axis
    model, data = posed(f'<geom type="box" size="0.3 0.25 0.2" euler="0 {angle} 0" rgba="0 1 0 1"/>')
    camera = head_on()
    light = np.array([0.3, 1.0, -0.2])  # falls on the front face (normal -y) at a known angle
    shot = Raycaster(camera, 1, light_direction=light, ambient=0.2).render(model, data)
    lit = 255 * (0.2 + 0.8 * light[1] / np.linalg.norm(light))
    assert np.abs(shot.image[shot.geom == 0][:, 1].astype(float) - lit).max() <= 1.0
    origin, directions = pixel_rays(camera)
    t = (-0.25 - origin[1]) / directions[..., 1]  # the front face is the plane y = -0.25
    hit = origin + t[..., None] * directions
    c, s = np.cos(angle), np.sin(angle)
    local_x, local_z = c * hit[..., 0] - s * hit[..., 2], s * hit[..., 0] + c * hit[..., 2]
    inside = np.minimum(0.3 - np.abs(local_x), 0.2 - np.abs(local_z))
    clear = np.abs(inside) > 2e-3
    assert np.array_equal((shot.geom == 0)[clear], (inside > 0)[clear])


def test_tilted_box_faces_have_their_lambert_shade():
    """Each visible face of a generally rotated box is flat-shaded by its world normal (R @ local normal)."""
    model, data = posed('<geom type="box" size="0.3 0.2 0.25" euler="0.4 0.2 0.7" rgba="0 1 0 1"/>')
    rotation = data.geom_xmat[0].reshape(3, 3)
    camera = Camera.look_at(W, H, 45.0, eye=(0.5, -2.0, 0.8), target=(0, 0, 0))
    light = np.array([-0.5, 0.8, -0.6])
    shot = Raycaster(camera, 1, light_direction=light, ambient=0.2).render(model, data)
    to_light = -light / np.linalg.norm(light)
    normals = np.concatenate([rotation.T, -rotation.T])  # rows: the six face normals in the world
    shades = 255 * (0.2 + 0.8 * np.clip(normals @ to_light, 0, 1))
    box = shot.geom == 0
    interior = box[1:-1, 1:-1] & box[:-2, 1:-1] & box[2:, 1:-1] & box[1:-1, :-2] & box[1:-1, 2:]
    green = shot.image[1:-1, 1:-1, 1][interior].astype(float)
    nearest = np.abs(green[:, None] - shades[None]).min(axis=1)
    assert interior.sum() > 50 and nearest.max() <= 1.0
    assert len(np.unique(np.round(green))) >= 2  # more than one face in view


def test_capsule_matches_ray_segment_distance():
    model, data = posed('<geom type="capsule" fromto="-0.35 0.1 -0.2 0.3 -0.1 0.25" size="0.08"/>')
    camera = Camera.look_at(W, H, 50.0, eye=(0.6, -1.8, 0.4), target=(0, 0, 0))
    shot = Raycaster(camera, 1).render(model, data)
    origin, directions = pixel_rays(camera)
    a, b = np.array([-0.35, 0.1, -0.2]), np.array([0.3, -0.1, 0.25])
    samples = a + np.linspace(0, 1, 1501)[:, None] * (b - a) - origin  # points along the axis
    rel = np.einsum("hwk,nk->hwn", directions, samples)
    distance = np.sqrt(np.maximum((samples**2).sum(-1) - rel**2, 0)).min(-1)
    clear = np.abs(distance - 0.08) > 2e-3
    assert np.array_equal((shot.geom == 0)[clear], (distance < 0.08)[clear])
    assert (shot.geom == 0).sum() > 50


def test_plane_fills_below_the_horizon():
    model, data = posed('<geom type="plane" size="0 0 1" pos="0 0 -0.5"/>')
    camera = Camera.look_at(W, H, 60.0, eye=(0, 0, 0), target=(1, 0, 0))  # level: horizon mid-image
    shot = Raycaster(camera, 1).render(model, data)
    assert (shot.geom[H // 2 :] == 0).all() and (shot.geom[: H // 2] == -1).all()


def test_hidden_geoms_supersampling_and_partial_rerender():
    model, data = posed(
        '<geom type="plane" size="0 0 1" pos="0 0 -1"/>'
        '<geom type="box" size="0.5 0.1 0.5" pos="0 0.5 0"/>'
        '<geom type="sphere" size="0.25" pos="0.05 0 0.02" rgba="0.9 0.2 0.1 1"/>'
    )
    camera = Camera.look_at(W, H, 50.0, eye=(0.3, -2.0, 0.6), target=(0, 0, 0))
    caster = Raycaster(camera, 3, checker={0: (0.2, 0.4)})
    full = caster.render(model, data)
    hidden = caster.render(model, data, hidden=[2])
    assert (full.geom == 2).any() and not (hidden.geom == 2).any()
    mask = full.covers([2])
    assert mask.sum() > (full.geom == 2).sum()  # anti-aliased edge pixels count as covered
    assert np.array_equal(full.image[~mask], hidden.image[~mask])
    edge = mask & (full.geom != 2)
    assert (full.image[edge] != hidden.image[edge]).any(axis=-1).all()  # partly covered pixels are blended
    partial = caster.render(model, data, hidden=[2], pixels=mask)
    assert np.array_equal(partial.image[mask], hidden.image[mask])  # tracing a subset changes nothing


# ---- scene ------------------------------------------------------------------------------------------


def first_index_with_task(task, seed=0):
    return next(i for i in range(50) if scene_lib.episode_plan(seed, i).task == task)


def test_carried_and_pushed_objects_move_with_the_gripper():
    plan = scene_lib.episode_plan(0, first_index_with_task("pick"))
    track = scene_lib.track(plan, 60)
    obj = track.object_position[:, plan.target]
    offset = obj - track.position
    closed = np.isclose(track.opening, track.opening.min())
    lifted = closed & (obj[:, 2] > obj[0, 2] + 0.02)
    assert lifted.any() and np.ptp(offset[lifted], axis=0).max() < 1e-9  # rigidly carried
    assert np.allclose(obj[-1, 2], obj[0, 2]) and np.linalg.norm(obj[-1, :2] - obj[0, :2]) > 0.05  # put down elsewhere
    others = [i for i in range(len(plan.objects)) if i != plan.target]
    assert np.ptp(track.object_position[:, others], axis=0).max() == 0

    plan = scene_lib.episode_plan(0, first_index_with_task("push"))
    track = scene_lib.track(plan, 60)
    obj = track.object_position[:, plan.target]
    assert np.ptp(obj[:, 2]) == 0 and np.linalg.norm(obj[-1] - obj[0]) > 0.05  # slid along the table
    moving = np.linalg.norm(np.diff(obj, axis=0), axis=1) > 1e-6
    assert np.allclose(np.diff(obj, axis=0)[moving][:, :2], np.diff(track.position, axis=0)[moving][:, :2])


def test_arm_reaches_the_planned_gripper_poses():
    index = first_index_with_task("pick")
    episode = scene_lib.make_episode(0, index, 12)
    track = scene_lib.track(scene_lib.episode_plan(0, index), 12)
    assert np.abs(episode.ee_position - track.position).max() < 1e-3
    assert np.abs(episode.ee_rotation - track.rotation).max() < 1e-2
    assert np.allclose(episode.ee_rotation[:, :, 2], [0, 0, -1], atol=1e-2)  # approach axis straight down


# ---- the dataset files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("h2rep")
    options = dict(width=W, height=H, frames=T, fps=8, seed=3, supersample=1, progress=False)
    robot = make_dataset(out, 2, **options)
    human = make_dataset(out, 1, human=True, **options)
    return out, robot, human, options


def test_clip_files_and_shapes(dataset):
    out, robot, human, _ = dataset
    import imageio.v2 as imageio

    assert [c.name.rsplit("_", 1)[1] for c in robot] == ["000", "001"] and human[0].name.startswith("human_")
    for clip in robot + human:
        frames = np.load(clip / "frames.npz")
        assert frames["video"].shape == frames["background"].shape == (T, H, W, 3)
        assert frames["video"].dtype == np.uint8 and frames["masks"].dtype == bool and frames["masks"].shape == (T, H, W)
        pose = np.load(clip / "ee_pose.npz")
        assert pose["position"].shape == (T, 3) and pose["rotation"].shape == (T, 3, 3)
        assert pose["quaternion"].shape == (T, 4) and pose["gripper_opening"].shape == (T,) and float(pose["fps"]) == 8
        r = pose["rotation"]
        assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3), atol=1e-6) and np.allclose(np.linalg.det(r), 1)
        for q, rot in zip(pose["quaternion"], r):
            m = np.zeros(9)
            mujoco.mju_quat2Mat(m, q)
            assert np.allclose(m.reshape(3, 3), rot, atol=1e-6)
        pngs = sorted((clip / "masks").glob("*.png"))
        assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(T)]
        for png, mask in zip(pngs, frames["masks"]):
            image = imageio.imread(png)
            assert image.shape == (H, W) and set(np.unique(image)) <= {0, 255}
            assert np.array_equal(image == 255, mask)
        for name in ("video.mp4", "background.mp4"):
            decoded = np.stack(imageio.mimread(clip / name))
            key = "video" if name == "video.mp4" else "background"
            assert decoded.shape == (T, H, W, 3)
            assert np.abs(decoded.astype(int) - frames[key]).mean() < 6  # chroma subsampling only
        assert read_camera(clip / "camera.json").width == W
        meta = json.loads((clip / "meta.json").read_text())
        assert clip.name.endswith(f"{meta['task']}_{meta['index']:03d}")
        assert not [p for p in clip.iterdir() if p.name.startswith(".")]  # no temporary files left
    hand = np.load(human[0] / "hand_keypoints.npz")
    assert hand["keypoints_3d"].shape == (T, 21, 3) and hand["focal_length"].shape == (2,)
    assert hand["principal_point"].shape == (2,) and bool(hand["is_right"])
    assert not (robot[0] / "hand_keypoints.npz").exists()


def test_gripper_site_projects_onto_the_arm_mask(dataset):
    """The site sits between the fingertips: on the mask, or inside the finger gap (half the projected
    opening) plus a pixel and a half of rounding."""
    _, robot, human, _ = dataset
    for clip in robot + human:
        camera = read_camera(clip / "camera.json")
        masks = np.load(clip / "frames.npz")["masks"]
        pose = np.load(clip / "ee_pose.npz")
        for t in range(T):
            assert 0.003 < masks[t].mean() < 0.4
            site = camera.project(pose["position"][t])
            finger = camera.project(pose["position"][t] + pose["rotation"][t][:, 1] * pose["gripper_opening"][t] / 2)
            allowed = 1.5 + np.linalg.norm(finger - site)
            assert distance_to_mask(masks[t], site) <= allowed, (clip.name, t)


def test_background_equals_video_outside_the_mask(dataset):
    _, robot, human, _ = dataset
    for clip in robot + human:
        frames = np.load(clip / "frames.npz")
        video, background, masks = frames["video"], frames["background"], frames["masks"]
        assert np.array_equal(video[~masks], background[~masks])
        differs = (video != background).any(axis=-1)
        assert differs[masks].mean() > 0.9  # the arm is gone where it was


def test_background_matches_a_render_with_the_arm_hidden(dataset):
    out, robot, _, options = dataset
    meta = json.loads((robot[0] / "meta.json").read_text())
    episode = scene_lib.make_episode(options["seed"], meta["index"], T)
    model, data = episode.scene.model, mujoco.MjData(episode.scene.model)
    caster = Raycaster(read_camera(robot[0] / "camera.json"), 1, checker=episode.scene.checker)
    background = np.load(robot[0] / "frames.npz")["background"]
    for t in (0, T - 1):
        scene_lib.set_frame(model, data, episode.qpos[t])
        hidden = caster.render(model, data, hidden=episode.scene.embodiment_geoms)
        assert np.array_equal(hidden.image, background[t])
        assert not np.isin(hidden.geom, episode.scene.embodiment_geoms).any()


def test_same_seed_same_frames(dataset, tmp_path):
    _, robot, _, options = dataset
    again = make_dataset(tmp_path, 1, **options)
    first, second = np.load(robot[0] / "frames.npz"), np.load(again[0] / "frames.npz")
    for key in ("video", "background", "masks"):
        assert np.array_equal(first[key], second[key])
    other = make_dataset(tmp_path / "other", 1, **{**options, "seed": options["seed"] + 1})
    assert not np.array_equal(np.load(other[0] / "frames.npz")["video"], first["video"])


def test_human_keypoints_project_onto_the_hand_mask(dataset):
    _, _, human, _ = dataset
    clip = human[0]
    hand = np.load(clip / "hand_keypoints.npz")
    masks = np.load(clip / "frames.npz")["masks"]
    points = hand["keypoints_3d"]
    assert (points[..., 2] > 0).all()
    uv = points[..., :2] / points[..., 2:] * hand["focal_length"] + hand["principal_point"]
    distances = np.array([[distance_to_mask(masks[t], p) for p in uv[t]] for t in range(T)])
    assert distances.max() <= 1.5
    # the gripper proxy is built from the keypoints as documented (in the world frame)
    camera = read_camera(clip / "camera.json")
    pose = np.load(clip / "ee_pose.npz")
    rotation = camera.world_to_camera[:3, :3]
    world = (points - camera.world_to_camera[:3, 3]) @ rotation
    assert np.allclose(pose["position"], 0.5 * (world[:, 4] + world[:, 8]), atol=1e-9)
    approach = world[:, 9] - world[:, 0]
    assert np.allclose(pose["rotation"][:, :, 2], approach / np.linalg.norm(approach, axis=-1, keepdims=True), atol=1e-9)
    assert np.allclose(pose["gripper_opening"], np.linalg.norm(world[:, 4] - world[:, 8], axis=-1))


def test_human_clip_pairs_with_the_robot_clip(dataset):
    _, robot, human, _ = dataset
    robot_meta = json.loads((robot[0] / "meta.json").read_text())
    human_meta = json.loads((human[0] / "meta.json").read_text())
    assert (robot_meta["task"], robot_meta["target_object"]) == (human_meta["task"], human_meta["target_object"])
    assert robot_meta["embodiment"] == "robot" and human_meta["embodiment"] == "human"


@pytest.mark.parametrize(
    "option, kwargs",
    [
        ("videos", dict(videos=0)),
        ("width", dict(width=0)),
        ("height", dict(height=-4)),
        ("frames", dict(frames=1)),
        ("fps", dict(fps=0)),
        ("supersample", dict(supersample=0)),
    ],
)
def test_bad_arguments_name_the_option(tmp_path, option, kwargs):
    arguments = dict(videos=1, width=W, height=H, frames=T, progress=False)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=option):
        make_dataset(tmp_path, arguments.pop("videos"), **arguments)
    assert not any(tmp_path.iterdir())


def test_raycaster_refuses_geoms_it_cannot_draw():
    model = mujoco.MjModel.from_xml_string(
        "<mujoco><asset><hfield name='h' nrow='2' ncol='2' size='1 1 0.1 0.1'/></asset>"
        "<worldbody><geom name='ground' type='hfield' hfield='h'/></worldbody></mujoco>"
    )
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    caster = Raycaster(Camera.look_at(16, 12, 50.0, eye=(2.0, 0.0, 1.0), target=(0.0, 0.0, 0.0)), 1)
    with pytest.raises(ValueError, match="geom ground is a mjGEOM_HFIELD"):
        caster.render(model, data)
