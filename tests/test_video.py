"""Rollout videos (dbc_jax/video.py): the run's own evaluation episodes, rendered offscreen."""

import os
import subprocess
import sys

import numpy as np
import pytest

import dbc_jax
from dbc_jax.configs import get_config
from dbc_jax.train import evaluate_workdir
from dbc_jax.video import RenderUnavailable, check_rendering, record_videos


def _rendering_or_skip():
    try:
        check_rendering()
    except RenderUnavailable as e:
        pytest.skip(f"no offscreen OpenGL here: {e}")


@pytest.fixture(scope="module")
def maze_run(tmp_path_factory):
    config = get_config("maze", "smoke")
    config.workdir = str(tmp_path_factory.mktemp("video") / "run")
    dbc_jax.train(config, progress=False)
    return config.workdir


def test_video_shows_the_members_own_evaluation_episodes(maze_run, tmp_path):
    _rendering_or_skip()
    from PIL import Image

    videos = record_videos(maze_run, num_episodes=2, member=1, out_dir=str(tmp_path), width=160, height=120,
                           progress=False)
    episodes = evaluate_workdir(maze_run).evaluation.episodes  # [members, episodes]
    for i, video in enumerate(videos):
        assert video["success"] == bool(episodes["success"][1, i])
        assert video["length"] == int(episodes["length"][1, i])
        np.testing.assert_allclose(video["return"], episodes["return"][1, i], rtol=1e-6)
        assert os.path.basename(video["path"]).startswith(f"member1_episode{i}_")
        with Image.open(video["path"]) as gif:
            frames = []
            for k in (0, gif.n_frames - 1):
                gif.seek(k)
                frames.append(np.asarray(gif.convert("RGB"), np.float32))
            assert gif.size == (160, 120)
            # the maze (100 steps a second) plays at 25 frames a second: every 4th step, the last, then a hold
            assert gif.n_frames >= video["length"] // 4 + 1
        assert np.abs(frames[0] - frames[1]).mean() > 0.1  # the point mass moved and the text changed
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]  # written atomically


@pytest.mark.parametrize("env_name,marker", [("fetchpick", "target0"), ("handrotate", "target")])
def test_the_goal_marker_is_drawn_where_the_goal_is_and_the_episode_is_unchanged(env_name, marker):
    """gymnasium-robotics moves its goal markers only in ``_render_callback`` (its ``render`` calls it), so a video
    drew Fetch's red dot at its default place and Hand's goal block unturned. ``goal_marked`` runs it on a copy of
    the state after the reset and every step: the marker shows the goal, and the episode is bit for bit the one
    evaluation plays without video (run on the live state, the callback's ``mj_forward`` changes Fetch's
    episode from the second step)."""
    import gymnasium as gym
    import mujoco

    from dbc_jax.tasks import get_task, register_all
    from dbc_jax.video import goal_marked

    register_all()
    task = get_task(env_name)
    actions = np.random.default_rng(0).uniform(-1, 1, (10, task.act_dim)).astype(np.float32)
    episodes = []
    for rendered in (False, True):
        env = gym.make(task.env_id)
        obs, _ = env.reset(seed=7)
        u = env.unwrapped
        scratch = mujoco.MjData(u.model)
        trace = [obs]
        for a in [None, *actions]:
            if a is not None:
                obs, reward, *_ = env.step(a)
                trace += [obs, np.float64(reward)]
            if rendered:
                shown = goal_marked(u, scratch)
                assert shown is scratch and u.data is not scratch
                if marker == "target0":  # the red dot sits on the goal
                    site = mujoco.mj_name2id(u.model, mujoco.mjtObj.mjOBJ_SITE, marker)
                    np.testing.assert_allclose(shown.site_xpos[site], u.goal, atol=1e-6)
                else:  # the goal block is turned to the goal orientation (either sign of the quaternion)
                    body = mujoco.mj_name2id(u.model, mujoco.mjtObj.mjOBJ_BODY, marker)
                    np.testing.assert_allclose(abs(shown.xquat[body] @ u.goal[3:]), 1.0, atol=1e-6)
        episodes.append(np.concatenate([np.ravel(x) for x in trace]))
        env.close()
    np.testing.assert_array_equal(episodes[0], episodes[1])


def test_mp4_video(maze_run, tmp_path):
    _rendering_or_skip()
    pytest.importorskip("imageio_ffmpeg", reason="MP4 needs the video extra (pip install -e '.[video]')")
    (video,) = record_videos(maze_run, num_episodes=1, fmt="mp4", out_dir=str(tmp_path), width=160, height=120,
                             progress=False)
    import imageio.v2 as imageio

    frames = imageio.mimread(video["path"])
    assert frames[0].shape == (120, 160, 3) and len(frames) >= video["length"] // 4


@pytest.mark.parametrize("kwargs, message", [
    ({"num_episodes": 0}, "--num_episodes: expected at least 1, got 0"),
    ({"fmt": "avi"}, "--format: expected one of gif, mp4, got 'avi'"),
    ({"member": 3}, "--member: the run has 3 members (0..2), got 3"),
])
def test_video_bad_input_is_named(maze_run, tmp_path, kwargs, message):
    if "member" in kwargs:
        _rendering_or_skip()  # checked once the run is read, after the renderer
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        record_videos(maze_run, out_dir=str(tmp_path), progress=False, **kwargs)
    assert os.listdir(tmp_path) == []


def test_without_offscreen_gl_the_command_says_what_to_install(maze_run):
    """MUJOCO_GL=osmesa where OSMesa is absent (as here): one line naming the packages, exit status 1."""
    try:
        import ctypes.util

        if ctypes.util.find_library("OSMesa"):
            pytest.skip("OSMesa is installed here")
    except ImportError:
        pass
    env = dict(os.environ, MUJOCO_GL="osmesa", PYOPENGL_PLATFORM="osmesa")
    proc = subprocess.run([sys.executable, "-m", "dbc_jax.video", f"--workdir={maze_run}"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "apt-get install libegl1 libgl1-mesa-dri" in proc.stderr and "libosmesa6" in proc.stderr
    assert not os.path.exists(os.path.join(maze_run, "videos"))
