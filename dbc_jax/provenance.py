"""What produced a result: the code (dbc_jax's version, git commit, uncommitted changes) and the hardware. One
place for both, used by ``results.json``, the checkpoints' metadata, the results tables and the benchmarks."""

from __future__ import annotations

import functools
import os
import platform
import subprocess

from dbc_jax._version import __version__


CODE_PATHS = tuple(f":(top){p}" for p in ("dbc_jax", "experiments", "setup.cfg", "pyproject.toml", "Makefile"))


@functools.lru_cache(maxsize=None)
def code_version() -> dict:
    """The code this process runs, and where: dbc_jax's version, in a git checkout the commit and whether the tracked
    code (``dbc_jax/``, ``experiments/`` and the build files: not the pages a run writes into ``docs/``) differs
    from it (``dirty``), and :func:`hardware`. Computed once, at the first call (a training run's
    start); a run records one per sitting (``results.json``'s ``code``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = _git(here, "rev-parse", "HEAD")
        dirty = code_changed(here)
    except (OSError, subprocess.SubprocessError):  # not a git checkout (an installed package), or no git
        return {"dbc_jax": __version__, "commit": "", "dirty": False, "hardware": hardware()}
    return {"dbc_jax": __version__, "commit": commit, "dirty": dirty, "hardware": hardware()}


def code_changed(directory: str) -> bool:
    """Whether the tracked code of the git checkout holding ``directory`` differs from its commit."""
    return bool(_git(directory, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS))


def _git(directory: str, *args) -> str:
    return subprocess.run(["git", "-C", directory, *args], capture_output=True, text=True, timeout=30,
                          check=True).stdout.strip()


def hardware() -> str:
    """The accelerator (or "CPU only"), the host CPU and its cores, and the jax and python versions, in one line."""
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = jax.devices()[0]
    device = "CPU only" if dev.platform == "cpu" else f"{dev.platform.upper()}: {dev.device_kind}"
    return (f"{device} | host CPU: {cpu}, {os.cpu_count()} cores | "
            f"jax {jax.__version__}, python {platform.python_version()}")
