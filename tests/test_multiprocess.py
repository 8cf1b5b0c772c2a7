"""Several processes (``jax.distributed`` over Gloo, on this CPU): a sweep on two local processes with two devices each
gives the single-process numbers bit for bit, a killed process ends the other with an error in bounded time, and a
restart resumes. The digest, gathering and argument checks run in one process."""

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from dbc_jax import distributed
from dbc_jax.checkpoint import Checkpoints, _whole_digest, fingerprint
from dbc_jax.demos import make_demos
from dbc_jax.evaluate import _member_part

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env(devices: int, **extra) -> dict:
    return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu",
            "PYTHONPATH": ROOT, **extra}


_LAUNCHED = []  # every process a test started: killed at its end, whatever the outcome


@pytest.fixture(autouse=True)
def _no_process_left():
    yield
    while _LAUNCHED:
        proc = _LAUNCHED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _launch(command: list[str], processes: int, devices: int, log_dir, **env) -> list[subprocess.Popen]:
    """``command`` once per process (with the coordinator flags when there are several), its output in log_dir."""
    port = _free_port()
    procs = _LAUNCHED
    for pid in range(processes):
        flags = ([f"--coordinator_address=localhost:{port}", f"--num_processes={processes}", f"--process_id={pid}"]
                 if processes > 1 else [])
        log = open(os.path.join(log_dir, f"{len(glob.glob(os.path.join(log_dir, '*.log')))}.log"), "w")
        procs.append(subprocess.Popen(command + flags, env=_env(devices, **env), stdout=log, stderr=subprocess.STDOUT,
                                      cwd=ROOT))
    return procs[-processes:]


def _finish(procs, timeout=600) -> list[int]:
    return [p.wait(timeout=timeout) for p in procs]


def _steps(workdir: str) -> list[int]:
    """The committed checkpoints' steps (not orbax's temporary folders of a write in progress)."""
    folder = os.path.join(workdir, "checkpoints")
    return sorted(int(name) for name in (os.listdir(folder) if os.path.isdir(folder) else []) if name.isdigit())


def _newest_meta(workdir: str) -> dict:
    with open(os.path.join(workdir, "checkpoints", str(_steps(workdir)[-1]), "meta", "metadata")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    import dbc_jax

    config = dbc_jax.get_config("maze", "smoke")
    path = str(tmp_path_factory.mktemp("demos") / "maze.npz")
    return make_demos(config, path, progress=False)


@pytest.mark.slow
def test_sweep_on_two_processes_equals_one(tmp_path, demos):
    """make sweep's script, 2 lambdas x 2 seeds: one process with 4 devices, then 2 processes with 2 each (the same
    4-way layout, so the same per-device programs): every loss, evaluation and parameter is equal bit for bit."""
    def sweep(name):
        return [sys.executable, "experiments/sweep.py", "--env", "maze", "--preset", "smoke", "--grid",
                "diffusion.coeff=0.1,1", "--set", "num_seeds=2", "--set", f"data.path={demos}",
                "--workdir", str(tmp_path / name)]

    one = _launch(sweep("one"), 1, 4, tmp_path)
    assert _finish(one) == [0], open(tmp_path / "0.log").read()[-3000:]
    two = _launch(sweep("two"), 2, 2, tmp_path)
    codes = _finish(two)
    assert codes == [0, 0], open(tmp_path / "1.log").read()[-3000:] + open(tmp_path / "2.log").read()[-3000:]

    run_one, run_two = tmp_path / "one" / "run", tmp_path / "two" / "run"
    a, b = (json.loads((r / "results.json").read_text()) for r in (run_one, run_two))
    assert a["episodes"] == b["episodes"] and a["evaluation"] == b["evaluation"] and len(a["per_member"]) == 4
    assert (run_one / "metrics.jsonl").read_text() == (run_two / "metrics.jsonl").read_text()
    meta_one, meta_two = _newest_meta(str(run_one)), _newest_meta(str(run_two))
    assert (meta_one["processes"], meta_two["processes"]) == (1, 2)
    assert meta_one["digest"] == meta_two["digest"]  # the digest does not depend on the layout: the same bits
    assert (tmp_path / "one" / "table.md").read_text() == (tmp_path / "two" / "table.md").read_text()

    # The two-process workdir, evaluated again by one process with one device, gives its own final evaluation.
    from dbc_jax import evaluate_workdir

    assert jax.process_count() == 1
    again = evaluate_workdir(str(run_two))
    assert again.evaluation.episodes["return"].tolist() == b["episodes"]["return"]


@pytest.mark.slow
def test_killed_process_ends_the_other_and_a_restart_resumes(tmp_path, demos):
    """Process 1 killed (SIGKILL) mid-training: process 0 ends with an error naming the failure within the
    heartbeat timeout plus a margin, never hangs; the same command then resumes from the last checkpoint and
    finishes with the numbers of an uninterrupted run."""
    heartbeat = 10
    train = [sys.executable, "-m", "dbc_jax.main", "--config=dbc_jax/configs/maze.py:smoke", "--config.num_seeds=4",
             f"--config.data.path={demos}", "--config.policy.epochs=60", "--config.policy.log_every_epochs=1",
             "--config.eval.every_epochs=0"]
    workdir = str(tmp_path / "killed")
    procs = _launch(train + [f"--config.workdir={workdir}"], 2, 2, tmp_path, DBC_JAX_HEARTBEAT_S=str(heartbeat))
    deadline = time.time() + 300
    while not any(step >= 8 for step in _steps(workdir)):
        assert time.time() < deadline and procs[0].poll() is None, open(tmp_path / "0.log").read()[-3000:]
        time.sleep(0.5)
    procs[1].send_signal(signal.SIGKILL)
    killed = time.time()
    code = procs[0].wait(timeout=heartbeat + 120)
    waited = time.time() - killed
    log = open(tmp_path / "0.log").read()
    assert code != 0 and waited < heartbeat + 60, (code, waited)
    # In a collective it learns at once (Gloo: connection reset) and says so in our one line; elsewhere (an orbax
    # barrier) jax's coordination service declares the silent process dead after the heartbeat timeout.
    assert "process 0 of 2: " in log or "heartbeat timeout" in log, log[-3000:]
    assert _newest_meta(workdir)["policy_epoch"] < 60

    restart = _launch(train + [f"--config.workdir={workdir}"], 2, 2, tmp_path)
    assert _finish(restart) == [0, 0], open(tmp_path / "2.log").read()[-3000:]
    assert "Resuming" in open(tmp_path / "2.log").read()
    straight = _launch(train + [f"--config.workdir={tmp_path / 'straight'}"], 1, 4, tmp_path)
    assert _finish(straight) == [0]
    assert _newest_meta(workdir)["digest"] == _newest_meta(str(tmp_path / "straight"))["digest"]
    resumed, whole = (json.loads(open(os.path.join(w, "results.json")).read())
                      for w in (workdir, str(tmp_path / "straight")))
    assert resumed["episodes"] == whole["episodes"]


@pytest.mark.slow
def test_an_error_on_one_process_ends_both(tmp_path, demos):
    """A host without the demo file (a workdir or data folder that is not shared): process 1 fails on it with its
    one line and ends at once; process 0, waiting for it, ends too instead of hanging."""
    heartbeat = 10
    port = _free_port()
    procs = []
    for pid, data in ((0, demos), (1, str(tmp_path / "missing.npz"))):
        log = open(tmp_path / f"{pid}.log", "w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dbc_jax.main", "--config=dbc_jax/configs/maze.py:smoke", "--config.num_seeds=4",
             f"--config.data.path={data}", f"--config.workdir={tmp_path / 'run'}",
             f"--coordinator_address=localhost:{port}", "--num_processes=2", f"--process_id={pid}"],
            env=_env(2, DBC_JAX_HEARTBEAT_S=str(heartbeat)), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    _LAUNCHED.extend(procs)
    start = time.time()
    codes = [p.wait(timeout=heartbeat + 120) for p in procs]
    assert all(code != 0 for code in codes) and time.time() - start < heartbeat + 90, codes
    failed = open(tmp_path / "1.log").read()
    assert "process 1 of 2: " in failed and "missing.npz" in failed, failed[-2000:]


def test_fingerprint_is_per_row_and_sees_every_change():
    tree = {"members": np.arange(12, dtype=np.float32).reshape(4, 3), "scalar": np.float32(2.0),
            "buffer": np.zeros((10_000, 3), np.float32)}  # over 4096 rows: hashed in blocks
    digest, bad = fingerprint(tree)
    assert bad is None and len(digest) == 64
    assert fingerprint({**tree, "members": jax.numpy.asarray(tree["members"])})[0] == digest  # numpy or jax alike
    for leaf, index in (("members", (3, 2)), ("buffer", (9_999, 0)), ("buffer", (0, 1))):
        changed = {k: np.array(v) for k, v in tree.items()}
        changed[leaf][index] += 1
        assert fingerprint(changed)[0] != digest, (leaf, index)
    tree["buffer"][5000, 2] = np.inf
    assert fingerprint(tree)[1] == "['buffer']"


def test_checkpoints_of_the_earlier_digest_still_verify(tmp_path):
    """Checkpoints written before the per-row digest (version 1: whole arrays) are read and checked as before."""
    tree = {"params": np.arange(6, dtype=np.float32)}
    ckpt = Checkpoints(str(tmp_path), writer=True)
    ckpt.manager.save(1, args=ocp.args.Composite(
        tree=ocp.args.StandardSave(tree),
        meta=ocp.args.JsonSave({"digest": _whole_digest(tree)})))
    ckpt.manager.wait_until_finished()
    step, restored, meta = ckpt.restore_intact(tree, quarantine=False)
    assert step == 1 and np.array_equal(restored["params"], tree["params"]) and "digest_version" not in meta
    ckpt.save_tree(2, tree, {})
    assert ckpt.read_meta(2)["digest_version"] == 2
    ckpt.close()
    ckpt = Checkpoints(str(tmp_path), writer=True)
    other = {"params": np.arange(6, dtype=np.float32) + 1}
    ckpt.manager.save(3, args=ocp.args.Composite(
        tree=ocp.args.StandardSave(other),
        meta=ocp.args.JsonSave({"digest": _whole_digest(tree)})))
    ckpt.manager.wait_until_finished()
    step, _, _ = ckpt.restore_intact(tree)  # step 3's arrays do not match its version-1 digest: step 2 is used
    assert step == 2
    ckpt.close()


def test_one_process_is_the_identity():
    assert not distributed.initialize()  # no coordinator: nothing joined
    assert distributed.is_writer() and not distributed.is_multiprocess()
    assert distributed.all_agree(True) and not distributed.all_agree(False) and distributed.any_process(True)
    x = np.arange(6.0).reshape(3, 2)
    assert distributed.gather_stacked(x).shape == (1, 3, 2)
    members, local = distributed.local_members({"w": x}, 3)
    assert members == range(3) and local["w"] is x
    assert distributed.gather_members(x, members) is x


@pytest.mark.parametrize("kwargs, message", [
    ({"num_processes": 2, "process_id": 1}, "need --coordinator_address"),
    ({"coordinator_address": "localhost:1234", "num_processes": 2}, "also give --num_processes and --process_id"),
    ({"coordinator_address": "localhost:1234", "num_processes": 2, "process_id": 2}, "expected 0 .. 1"),
])
def test_bad_process_flags_are_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distributed.initialize(**kwargs)


def test_an_evaluators_members_keep_their_place():
    assert _member_part(2, 2, 4) == (2, 4) and _member_part(3, 0, None) == (0, 3)
    with pytest.raises(ValueError, match="members 3..4 are not among 4"):
        _member_part(2, 3, 4)

