"""Rollout videos of a saved run: evaluation episodes rendered offscreen with MuJoCo, written as GIF or MP4.

    python -m dbc_jax.video --workdir=runs/maze_dbc_quick [--num_episodes=4] [--member=0] [--format=gif|mp4]
    make video WORKDIR=runs/maze_dbc_quick ARGS="--num_episodes=4"

The episodes are the run's own evaluation episodes: the evaluator of ``make eval`` plays every episode of one
member (a seed, or a grid point) with the run's policy, env settings and reset seeds, and the first
``num_episodes`` of them are rendered, so episode ``i`` of the video is episode ``i`` of that member's evaluation
(``episodes.png``). Each frame shows the step, the return so far and, on a success task, whether it succeeded.

Offscreen OpenGL: ``MUJOCO_GL=osmesa`` or ``glfw`` if you set it; otherwise EGL, on a GPU's device when there is
one, else Mesa's software rasterizer through the surfaceless platform (no display, no GPU). When none of these
exists, the error names the system package to install (:data:`GL_HINT`).
"""

from __future__ import annotations

import ctypes
import os
import textwrap

import numpy as np

from dbc_jax.errors import Fault

GL_HINT = ("offscreen rendering needs OpenGL through EGL (Mesa's software renderer is enough: on Debian/Ubuntu "
           "`apt-get install libegl1 libgl1-mesa-dri`; an NVIDIA driver provides its own) or OSMesa "
           "(`apt-get install libosmesa6` and MUJOCO_GL=osmesa)")
FORMATS = ("gif", "mp4")
MAX_FPS = 30  # browsers slow down GIF frames shorter than 20 ms, and 30 frames a second is smooth enough
_EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class RenderUnavailable(Fault):
    """No offscreen OpenGL on this machine (the message says what to install)."""


class _SurfacelessContext:
    """An OpenGL context on Mesa's surfaceless EGL platform: software rendering with no display and no GPU."""

    def __init__(self):
        from OpenGL import EGL

        self._egl = EGL
        self.display = EGL.eglGetPlatformDisplayEXT(_EGL_PLATFORM_SURFACELESS_MESA, EGL.EGL_DEFAULT_DISPLAY, None)
        major, minor = EGL.EGLint(), EGL.EGLint()
        if not self.display or not EGL.eglInitialize(self.display, ctypes.pointer(major), ctypes.pointer(minor)):
            raise RuntimeError("no surfaceless EGL display")
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        # MuJoCo draws into its own framebuffer object, so the context needs no config and no surface
        self.context = EGL.eglCreateContext(self.display, EGL.EGLConfig(), EGL.EGL_NO_CONTEXT, None)
        if not self.context:
            raise RuntimeError("no surfaceless EGL context")

    def make_current(self):
        if not self._egl.eglMakeCurrent(self.display, self._egl.EGL_NO_SURFACE, self._egl.EGL_NO_SURFACE,
                                        self.context):
            raise RuntimeError("could not make the surfaceless EGL context current")

    def free(self):
        if self.context:
            self._egl.eglMakeCurrent(self.display, self._egl.EGL_NO_SURFACE, self._egl.EGL_NO_SURFACE,
                                     self._egl.EGL_NO_CONTEXT)
            self._egl.eglDestroyContext(self.display, self.context)
            self.context = None


def gl_context(width: int, height: int):
    """A current offscreen OpenGL context (see the module docstring for the order tried); RenderUnavailable if none."""
    backend = os.environ.get("MUJOCO_GL", "egl").lower()
    if backend == "egl":
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")  # before PyOpenGL is first imported
    errors = []
    attempts = {"osmesa": ["osmesa"], "glfw": ["glfw"]}.get(backend, ["egl_device", "egl_surfaceless"])
    for attempt in attempts:
        try:
            if attempt == "egl_surfaceless":
                context = _SurfacelessContext()
            else:
                import importlib

                module = importlib.import_module("mujoco." + attempt.replace("_device", ""))
                context = module.GLContext(width, height)
            context.make_current()
            return context
        except Exception as e:  # noqa: BLE001 -- each backend fails in its own way; all are reported below
            errors.append(f"{attempt}: {type(e).__name__}: {e}".strip())
    raise RenderUnavailable(f"{GL_HINT} (tried {'; '.join(errors)})")


def check_rendering() -> None:
    """Raise RenderUnavailable (saying what to install) unless offscreen rendering works here."""
    try:
        import mujoco  # with MUJOCO_GL=osmesa or glfw, importing mujoco itself loads that library
    except Exception as e:  # noqa: BLE001
        raise RenderUnavailable(f"{GL_HINT} (MUJOCO_GL={os.environ.get('MUJOCO_GL')}: importing mujoco failed: "
                                f"{type(e).__name__}: {e})") from e

    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>")
    Renderer(model, 32, 32, {}).close()


class Renderer:
    """Frames of one MuJoCo model from a task's camera (``Task.camera``), with text in the top-left corner."""

    def __init__(self, model, width: int, height: int, camera: dict):
        import mujoco

        self._mj = mujoco
        self.width, self.height = width, height
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self.gl = gl_context(width, height)
        self.context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self.context)
        self.scene = mujoco.MjvScene(model, maxgeom=10_000)
        self.option = mujoco.MjvOption()
        self.camera = self._camera(model, camera)
        self.viewport = mujoco.MjrRect(0, 0, width, height)

    def _camera(self, model, spec: dict):
        mj = self._mj
        camera = mj.MjvCamera()
        if "name" in spec:  # one of the model's own cameras
            camera.type = mj.mjtCamera.mjCAMERA_FIXED
            camera.fixedcamid = mj.mj_name2id(model, mj.mjtObj.mjOBJ_CAMERA, spec["name"])
            return camera
        mj.mjv_defaultFreeCamera(model, camera)
        if "track" in spec:
            camera.type = mj.mjtCamera.mjCAMERA_TRACKING
            camera.trackbodyid = mj.mj_name2id(model, mj.mjtObj.mjOBJ_BODY, spec["track"])
        for field in ("distance", "azimuth", "elevation"):
            if field in spec:
                setattr(camera, field, spec[field])
        if "lookat" in spec:
            camera.lookat[:] = spec["lookat"]
        return camera

    def render(self, model, data, text: str = "", legend: str = "") -> np.ndarray:
        """The current frame as uint8 [height, width, 3], ``text`` in the top-left corner, ``legend`` in the
        bottom-left."""
        mj = self._mj
        self.gl.make_current()
        mj.mjv_updateScene(model, data, self.option, None, self.camera, mj.mjtCatBit.mjCAT_ALL, self.scene)
        mj.mjr_render(self.viewport, self.scene, self.context)
        for where, words in ((mj.mjtGridPos.mjGRID_TOPLEFT, text), (mj.mjtGridPos.mjGRID_BOTTOMLEFT, legend)):
            if words:
                mj.mjr_overlay(mj.mjtFont.mjFONT_NORMAL, where, self.viewport, words, "", self.context)
        frame = np.empty((self.height, self.width, 3), np.uint8)
        mj.mjr_readPixels(frame, None, self.viewport, self.context)
        return np.flipud(frame)  # OpenGL's rows run bottom to top

    def close(self) -> None:
        self.context.free()
        self.gl.free()


def write_video(frames: list[np.ndarray], path: str, fps: float) -> None:
    """Frames to ``path`` (GIF through Pillow, MP4 through imageio-ffmpeg), written atomically."""
    ext = os.path.splitext(path)[1].lstrip(".")
    tmp = f"{path}.tmp.{ext}"
    if ext == "gif":
        from PIL import Image

        images = [Image.fromarray(f).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for f in frames]
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    else:
        import imageio.v2 as imageio

        with imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=8) as writer:
            for f in frames:
                writer.append_data(f)
    os.replace(tmp, path)


def check_format(fmt: str) -> None:
    """Bad input before any compute: an unknown format, or MP4 without its optional writer."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    if fmt == "mp4":
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError as e:
            raise ValueError("--format=mp4 needs imageio and imageio-ffmpeg (pip install -e '.[video]'); "
                             "--format=gif needs nothing more") from e


def record_videos(workdir: str, num_episodes: int = 4, member: int = 0, fmt: str = "gif", out_dir: str = "",
                  width: int = 480, height: int = 360, progress: bool = True) -> list[dict]:
    """Render the first ``num_episodes`` evaluation episodes of ``member`` of the run in ``workdir`` into
    ``out_dir`` (default ``<workdir>/videos``); one dict per episode: path, success, return, length."""
    import jax
    from tqdm.auto import tqdm

    from dbc_jax.evaluate import CMujocoEvaluator, make_policy_fn
    from dbc_jax.tasks import get_task
    from dbc_jax.trainer import eval_key
    from dbc_jax.workdir import restore_workdir

    check_format(fmt)
    if num_episodes < 1:
        raise ValueError(f"--num_episodes: expected at least 1, got {num_episodes}")
    check_rendering()
    config, state, normalizer, bounds, fns = restore_workdir(workdir)
    members = fns.grid.num_members
    if not 0 <= member < members:
        raise ValueError(f"--member: the run has {members} members (0..{members - 1}), got {member}")
    num_episodes = min(num_episodes, config.eval.num_episodes)
    task = get_task(config.env_name)
    out_dir = out_dir or os.path.join(os.path.abspath(workdir), "videos")
    os.makedirs(out_dir, exist_ok=True)

    full = make_policy_fn(lambda params, obs, key: fns.act(params, obs, key, bounds), normalizer)

    def policy_fn(params, obs, key, step, first=0, total=None):  # this member's draws, as in the full evaluation
        return full(params, obs, key, step, first=member, total=members)

    sim_fps = 1.0 / _control_dt(task)
    stride = max(1, round(sim_fps / MAX_FPS))  # steps per frame: real time at most MAX_FPS frames a second
    seeds = np.asarray(fns.grid.hparams().seed)
    label = fns.grid.label(list(fns.grid.points())[member // fns.grid.num_seeds]) if fns.grid.axes else ""
    label = f"{label} seed {int(seeds[member])}".strip()
    import mujoco

    renderers: dict[int, Renderer] = {}
    scratch: dict[int, object] = {}  # per episode, the MjData a frame is drawn from (goal_marked)
    legend = _wrapped(task.legend, width)
    frames: dict[int, list] = {e: [] for e in range(num_episodes)}
    outcome: dict[int, dict] = {}
    bar = tqdm(total=num_episodes, desc="video episodes", disable=not progress)

    def watch(_member, episode, env, step, episode_return, success, done):
        model = env.unwrapped.model
        if step % stride and not done:
            return
        if episode not in renderers:
            renderers[episode] = Renderer(model, width, height, dict(task.camera))
            scratch[episode] = mujoco.MjData(model)
        text = f"{config.env_name} / {config.algo}  {label}  episode {episode}\nstep {step}  return {episode_return:.1f}"
        if task.metric == "success":
            text += "  success" if success else ""
        shown = goal_marked(env.unwrapped, scratch[episode])
        frames[episode].append(renderers[episode].render(model, shown, text, legend))
        if done:
            outcome[episode] = {"success": success if task.metric == "success" else None,
                                "return": float(episode_return), "length": step}
            bar.update()

    params = jax.tree.map(lambda x: x[member:member + 1], state.policy_params)
    evaluator = CMujocoEvaluator(task.env_id, dict(config.env), config.num_seeds, config.eval.num_episodes,
                                 policy_fn, member_seeds=seeds[member:member + 1], record=num_episodes, watch=watch)
    try:
        evaluator(params, eval_key(config.seed, int(state.policy_epoch)))
    finally:
        evaluator.close()
        for renderer in renderers.values():
            renderer.close()
        bar.close()
    fps = sim_fps / stride
    written = []
    for episode in range(num_episodes):
        tail = "success" if outcome[episode]["success"] else ("failure" if task.metric == "success" else
                                                            f"return{outcome[episode]['return']:.0f}")
        path = os.path.join(out_dir, f"member{member}_episode{episode}_{tail}.{fmt}")
        write_video(frames[episode] + [frames[episode][-1]] * int(fps), path, fps)  # hold the last frame 1 s
        written.append({"path": path, **outcome[episode]})
    return written


def goal_marked(env, scratch):
    """The MjData to draw ``env``'s current frame from. gymnasium-robotics envs move their goal markers (Fetch's red
    dot, Hand's goal block) only in ``_render_callback``, which ends in ``mj_forward``; on the live data that
    changes the next steps' contact solution (a different episode), so it runs on ``scratch``, a copy of the live
    data. Other envs keep their markers in the state: the live data as is."""
    import mujoco

    place = getattr(env, "_render_callback", None)
    if place is None:
        return env.data
    live = env.data
    mujoco.mj_copyData(scratch, env.model, live)
    env.data = scratch
    try:
        place()
    finally:
        env.data = live
    return scratch


def _wrapped(legend: str, width: int) -> str:
    """The legend in lines that fit a frame ``width`` pixels wide (the renderer's font: about 12 pixels a letter)."""
    return "\n".join(textwrap.wrap(legend, max(20, width // 12)))


def _control_dt(task) -> float:
    """Seconds of simulated time per env step (the video plays in real time)."""
    import gymnasium as gym

    env = gym.make(task.env_id)
    dt = float(getattr(env.unwrapped, "dt", 0.04))
    env.close()
    return dt


def main(argv=None) -> None:
    import argparse

    from dbc_jax.errors import run_cli

    def _main(args_list):
        parser = argparse.ArgumentParser(prog="python -m dbc_jax.video", description=__doc__.split("\n")[0],
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--workdir", required=True, help="a run directory written by make train")
        parser.add_argument("--num_episodes", type=int, default=4, help="episodes to render (the evaluation's first)")
        parser.add_argument("--member", type=int, default=0, help="which seed or grid member (0-based)")
        parser.add_argument("--format", default="gif", choices=FORMATS, help="gif (Pillow) or mp4 (imageio-ffmpeg)")
        parser.add_argument("--out_dir", default="", help="where to write (default: <workdir>/videos)")
        parser.add_argument("--width", type=int, default=480)
        parser.add_argument("--height", type=int, default=360)
        args = parser.parse_args(args_list[1:])
        for video in record_videos(args.workdir, args.num_episodes, args.member, args.format, args.out_dir,
                                   args.width, args.height):
            extra = f"success {video['success']}, " if video["success"] is not None else ""
            print(f"{video['path']}  ({extra}return {video['return']:.1f}, {video['length']} steps)")

    run_cli(_main, argv)


if __name__ == "__main__":
    main()
