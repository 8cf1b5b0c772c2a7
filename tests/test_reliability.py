"""Faults stop a run loudly or are recovered from: config values, non-finite losses, damaged checkpoints, a second
writer, command-line errors, and SIGKILL at random moments (docs/development.md, "Reliability")."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

import dbc_jax
from dbc_jax import configs
from dbc_jax.checkpoint import Checkpoints, workdir_lock
from dbc_jax.configs.checks import SAC_RULES, leaves, rules_for
from dbc_jax.errors import CheckpointError, NonFiniteError, WorkdirBusyError, WorkdirError
from dbc_jax.metrics import MetricsLog
from dbc_jax.experts import sac
from dbc_jax.tasks import TASKS
from dbc_jax.demos import make_demos
from dbc_jax.train import evaluate_workdir
from dbc_jax.workdir import restore_workdir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def smoke(tmp_path, demos, name="run", **fields):
    c = dbc_jax.get_config("maze", "smoke")
    c.data.path, c.workdir, c.checkpoint.max_to_keep = demos, str(tmp_path / name), 10
    for field, value in fields.items():
        configs.set_field(c, field, value if isinstance(value, str) else repr(value), "test")
    return c


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("data") / "demos.npz")
    make_demos(dbc_jax.get_config("maze", "smoke"), path, progress=False)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, demos):
    """An uninterrupted smoke run (checkpoints 2, 4, 6, 8) and its final parameters."""
    run = dbc_jax.train(smoke(tmp_path_factory.mktemp("reference"), demos), progress=False)
    return run, restore_workdir(run.workdir).state


def same_arrays(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# -- 3. config values ------------------------------------------------------------------------------------------------

def test_every_field_of_every_config_has_a_constraint():
    for task in TASKS:
        for preset in ("smoke", "quick", "paper"):
            for field, _ in leaves(dbc_jax.get_config(task, preset)):
                assert rules_for(field), f"{task}/{preset}: config.{field} has no rule in configs/checks.py"


@pytest.mark.parametrize("field, value, message", [
    ("policy.epochs", 0, "config.policy.epochs: must be an integer >= 1, got 0"),
    ("diffusion.epochs", -5, "config.diffusion.epochs: must be an integer >= 1, got -5"),
    ("policy.lr", -1e-3, "config.policy.lr: must be a finite number > 0, got -0.001"),
    ("diffusion.lr", 0.0, "config.diffusion.lr: must be a finite number > 0, got 0.0"),
    ("policy.hidden_sizes", (0, 32), r"config.policy.hidden_sizes: must be a non-empty tuple of integers >= 1, "
                                     r"got \(0, 32\)"),
    ("diffusion.hidden", 0, "config.diffusion.hidden: must be an integer >= 1, got 0"),
    ("num_seeds", 0, "config.num_seeds: must be an integer >= 1, got 0"),
    ("eval.num_episodes", 0, "config.eval.num_episodes: must be an integer >= 1, got 0"),
    ("policy.grad_clip", -1.0, "config.policy.grad_clip: must be a finite number >= 0, got -1.0"),
    ("checkpoint.max_to_keep", 1, "config.checkpoint.max_to_keep: must be an integer >= 2, got 1"),
    ("diffusion.term", "hinged", r"config.diffusion.term: must be one of \('hinge', 'agent', 'abs'\), got 'hinged'"),
    ("env.noise_ratio", -1.0, "config.env.noise_ratio: must be a finite number >= 0, got -1.0"),
    ("policy.batch_size", 10**6, r"config.policy.batch_size: must be at most the number of transitions in "
                                 r".*demos.npz \(1611\), got 1000000"),
])
def test_an_impossible_config_value_is_refused_before_any_file(tmp_path, demos, field, value, message):
    c = smoke(tmp_path, demos, **{field: value})
    with pytest.raises(ValueError, match=message):
        dbc_jax.train(c, progress=False)
    assert not os.path.exists(c.workdir)


def test_a_type_error_and_an_unknown_field_are_named(tmp_path, demos):
    d = smoke(tmp_path, demos).to_dict()
    d["policy"]["epochs"] = 2.5  # e.g. a config built from a dict (ConfigDict checks types only on assignment)
    c = ConfigDict(d)
    with pytest.raises(ValueError, match="config.policy.epochs: must be an integer >= 1, got 2.5"):
        dbc_jax.train(c, progress=False)
    c = smoke(tmp_path, demos)
    c.policy.epoch = 3  # a typo
    with pytest.raises(ValueError, match="config.policy.epoch: not a known config field"):
        dbc_jax.train(c, progress=False)
    assert not os.path.exists(c.workdir)


def test_the_sac_trainer_checks_its_config_before_any_file(tmp_path):
    c = sac.get_config("walker")
    c.workdir, c.total_steps = str(tmp_path / "sac"), 0
    with pytest.raises(ValueError, match="config.total_steps: must be an integer >= 1, got 0"):
        sac.train(c, progress=False)
    c.total_steps, c.gamma = 100, 1.5
    with pytest.raises(ValueError, match=r"config.gamma: must be a number in \(0, 1\], got 1.5"):
        sac.train(c, progress=False)
    assert not os.path.exists(c.workdir)
    for field, _ in leaves(sac.get_config("antreach")):
        assert rules_for(field, SAC_RULES), f"SAC config.{field} has no rule"


# -- 1. non-finite values --------------------------------------------------------------------------------------------

def test_a_diverging_run_stops_naming_phase_epochs_terms_and_seeds(tmp_path, demos):
    c = smoke(tmp_path, demos, **{"policy.lr": 1e30, "policy.grad_clip": 0.0})
    with pytest.raises(NonFiniteError, match=r"dbc policy epochs 1-2: non-finite values from epoch 1 on, in "
                                             r"bc/mse, loss/total, .*policy/nonfinite_params, for seed 0, seed 1, "
                                             r"seed 2\. The chunk was not saved \(checkpoint 4 stays the latest\)"):
        dbc_jax.train(c, progress=False)
    ckpt = Checkpoints(c.workdir)
    assert ckpt.all_steps() == [2, 4]  # the diffusion phase's; nothing of the diverged chunk
    ckpt.close()
    assert not os.path.exists(os.path.join(c.workdir, "results.json"))


def test_a_grid_names_the_member_that_diverged(tmp_path, demos):
    c = smoke(tmp_path, demos, **{"grid.lr": (1e-3, 1e30), "policy.grad_clip": 0.0, "num_seeds": 1})
    with pytest.raises(NonFiniteError, match=r"for member 1 \(lr=1e\+30, seed=0\)\."):
        dbc_jax.train(c, progress=False)


def test_the_sac_trainer_stops_on_non_finite_losses(tmp_path):
    c = sac.get_config("walker")
    c.hidden, c.total_steps, c.random_steps, c.updates_per_chunk = (16, 16), 300, 100, 50
    c.eval_every, c.eval_episodes, c.checkpoint_every, c.critic_lr = 10**9, 1, 10**9, 1e30
    c.out, c.workdir = str(tmp_path / "actor.msgpack"), str(tmp_path / "sac")
    with pytest.raises(NonFiniteError, match=r"SAC updates of env steps \d+-\d+: non-finite .*critic/loss"):
        sac.train(c, progress=False)


# -- 2. damaged checkpoints ------------------------------------------------------------------------------------------

def biggest_array_file(step_dir):
    files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(step_dir, "tree")) for f in fs]
    return max(files, key=os.path.getsize)


def overwrite_bytes(path):
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\x7f" * 64)


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 3)


@pytest.mark.parametrize("damage", [overwrite_bytes, truncate, os.remove])
def test_a_damaged_checkpoint_is_named_and_training_resumes_from_the_newest_intact_one(
        tmp_path, demos, reference, damage, capsys):
    run, final = reference
    copy = tmp_path / "copy"
    shutil.copytree(run.workdir, copy)
    damage(biggest_array_file(copy / "checkpoints" / "8"))
    # Evaluation falls back to checkpoint 6 and leaves the workdir as it is.
    evaluate_workdir(str(copy))
    err = capsys.readouterr().err
    assert "warning: checkpoint 8 in" in err and "is damaged:" in err and "using checkpoint 6" in err
    assert os.path.isdir(copy / "checkpoints" / "8")
    # Training moves it aside, resumes from 6 and ends where the uninterrupted run ended, bit for bit.
    resumed = dbc_jax.train(smoke(tmp_path, demos, "copy"), progress=False)
    assert os.path.isdir(copy / "checkpoints_damaged" / "8")
    same_arrays(restore_workdir(str(copy)).state, final)
    np.testing.assert_array_equal(resumed.per_seed, run.per_seed)


def test_an_unfinished_checkpoint_write_is_ignored_and_cleaned_up_on_resume(tmp_path, demos, reference):
    """What a process killed mid-write leaves: orbax's temporary folder, here half of checkpoint 8's files."""
    run, final = reference
    copy = tmp_path / "copy"
    shutil.copytree(run.workdir, copy)
    unfinished = copy / "checkpoints" / "8.orbax-checkpoint-tmp-1763900000000000"
    shutil.move(copy / "checkpoints" / "8", unfinished)
    os.remove(biggest_array_file(unfinished))
    assert evaluate_workdir(str(copy)).paths  # a reader sees checkpoint 6 and leaves the folder alone
    assert unfinished.exists()
    dbc_jax.train(smoke(tmp_path, demos, "copy"), progress=False)
    assert not unfinished.exists() and sorted(os.listdir(copy / "checkpoints")) == ["2", "4", "6", "8"]
    same_arrays(restore_workdir(str(copy)).state, final)


def test_no_intact_checkpoint_is_a_clear_error(tmp_path, reference):
    run, _ = reference
    copy = tmp_path / "copy"
    shutil.copytree(run.workdir, copy)
    steps = sorted(os.listdir(copy / "checkpoints"))
    for step in steps:
        overwrite_bytes(biggest_array_file(copy / "checkpoints" / step))
    with pytest.raises(CheckpointError, match=r"no intact checkpoint \(step 8: .*; step 2: "):
        evaluate_workdir(str(copy))


def test_non_finite_values_in_a_checkpoint_count_as_damage(tmp_path):
    ckpt = Checkpoints(str(tmp_path))
    ckpt.save_tree(1, {"params": np.array([1.0, np.nan], np.float32)}, {})  # a matching digest, NaN inside
    with pytest.raises(CheckpointError, match=r"no intact checkpoint \(step 1: non-finite values in \['params'\]\)"):
        ckpt.restore_intact(None)
    ckpt.close()


def test_a_workdir_read_while_it_trains_gives_the_newest_intact_checkpoint_and_calls_none_damaged(tmp_path, capfd):
    """A writer process saves 150 checkpoints keeping 2 (each save rotates one away) while this process opens and
    restores the workdir's checkpoints over and over, as ``make eval`` beside ``make train`` does. Before the
    writer retired checkpoints by an atomic rename, about 1 open in 40 failed with FileNotFoundError or
    NotADirectoryError (a step listed, then gone)."""
    tree = {"w": np.zeros((256, 256), np.float32)}
    first = Checkpoints(str(tmp_path), writer=True)
    first.save_tree(0, tree, {"step": 0})
    first.close()
    writer = subprocess.Popen([sys.executable, "-c", "import numpy as np; from dbc_jax.checkpoint import Checkpoints\n"
                               f"c = Checkpoints({str(tmp_path)!r}, writer=True)\n"
                               "for step in range(1, 151):\n"
                               "    c.save_tree(step, {'w': np.full((256, 256), step, np.float32)}, {'step': step})\n"
                               "c.close()"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    restored = []
    while writer.poll() is None:
        reader = Checkpoints(str(tmp_path))
        step, got, meta = reader.restore_intact(tree, quarantine=False)
        reader.close()
        assert meta["step"] == step and float(got["w"][0, 0]) == step
        restored.append(step)
    assert writer.returncode == 0, writer.stderr.read()[-2000:]
    assert len(restored) >= 20 and restored == sorted(restored) and len(set(restored)) >= 10
    assert "damaged" not in capfd.readouterr().err
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["149", "150"]  # the rotated ones deleted after each save


# -- 5. one writer per workdir ---------------------------------------------------------------------------------------

def test_a_second_writer_is_refused_and_a_killed_one_leaves_no_lock(tmp_path, demos):
    c = smoke(tmp_path, demos)
    with workdir_lock(c.workdir):
        with pytest.raises(WorkdirBusyError, match=rf"{c.workdir}: another process \(pid {os.getpid()}\) is writing"):
            dbc_jax.train(c, progress=False)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from dbc_jax.checkpoint import workdir_lock\n"
                               f"with workdir_lock({c.workdir!r}):\n    print('locked', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(WorkdirBusyError, match=rf"pid {holder.pid}\)"):
        dbc_jax.train(c, progress=False)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with workdir_lock(c.workdir):  # free again
        pass


def test_a_planted_symbolic_link_never_redirects_a_write(tmp_path, demos):
    """A pre-made workdir whose .lock or metrics.jsonl links to a file of the user's: training refuses the lock
    before anything is written, and the file keeps its contents."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    c = smoke(tmp_path, demos)
    os.makedirs(c.workdir)
    os.symlink(victim, os.path.join(c.workdir, ".lock"))
    with pytest.raises(WorkdirError, match=rf"{c.workdir}/.lock is a symbolic link \(to {victim}\): dbc_jax does not "
                                           "write through links; remove it, or use another workdir"):
        dbc_jax.train(c, progress=False)
    os.remove(os.path.join(c.workdir, ".lock"))
    log = MetricsLog(os.path.join(c.workdir, "metrics.jsonl"))
    os.symlink(victim, log.path)
    with pytest.raises(WorkdirError, match="metrics.jsonl is a symbolic link"):
        log.append([{"phase": "grid"}])
    assert victim.read_text() == "precious\n"


def test_an_edited_config_json_cannot_steer_an_evaluation(tmp_path, reference):
    """Evaluation takes the task and the networks from the checkpoint's own config: a config.json edited to another
    task or width is refused, naming the fields, instead of evaluating in the wrong env or calling the checkpoints
    damaged."""
    workdir = tmp_path / "edited"
    shutil.copytree(reference[0].workdir, workdir)
    path = workdir / "config.json"
    original = json.loads(path.read_text())
    for edit, fields in ((lambda c: c.update(env_name="fetchpick"), "env_name"),
                         (lambda c: c["policy"].update(hidden_sizes=[64, 64]), "policy")):
        config = json.loads(json.dumps(original))
        edit(config)
        path.write_text(json.dumps(config))
        with pytest.raises(ValueError, match=rf"config.json disagrees with checkpoint 8's own config \({fields} "
                                             r"differ\): it was edited after training; restore it, or train again"):
            evaluate_workdir(str(workdir))
    path.write_text(json.dumps(original))
    assert evaluate_workdir(str(workdir)).per_member.tolist() == reference[0].per_member.tolist()


def test_a_runs_files_get_the_users_normal_permissions(tmp_path, demos, reference):
    run, _ = reference
    expected = 0o666 & ~umask()
    for name in ("config.json", "metrics.jsonl", "results.json"):
        assert os.stat(os.path.join(run.workdir, name)).st_mode & 0o777 == expected, name
    assert os.stat(demos).st_mode & 0o777 == expected


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_torn_last_metrics_line_is_dropped_on_resume_and_a_damaged_one_named(tmp_path, demos, reference, capfd):
    """A process killed mid-write leaves half a record: resuming drops it (the records past the checkpoint go
    anyway) and ends with the uninterrupted run's parameters. A damaged record before the last is named."""
    _, final = reference
    c = smoke(tmp_path, demos)
    shutil.copytree(reference[0].workdir, c.workdir)
    os.remove(os.path.join(c.workdir, "results.json"))
    shutil.rmtree(os.path.join(c.workdir, "checkpoints", "8"))  # the run stopped after checkpoint 6 ...
    path = os.path.join(c.workdir, "metrics.jsonl")
    with open(path, "a") as f:
        f.write('{"phase": "policy", "epo')  # ... in the middle of a record
    dbc_jax.train(c, progress=False)
    assert "metrics.jsonl, line 12: a torn last record (the writer was stopped mid-line) is dropped" in (
        capfd.readouterr().err)
    same_arrays(restore_workdir(c.workdir).state, final)
    lines = open(path).read().splitlines()
    lines[3] = lines[3][:20]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with pytest.raises(WorkdirError, match=r"metrics.jsonl, line 4: not a JSON record \(.*\); the file was edited or "
                                           "damaged: restore it, or train in another workdir"):
        MetricsLog(path).records()


def test_a_misspelled_field_gets_the_closest_known_one():
    c = dbc_jax.get_config("maze", "smoke")
    with pytest.raises(ValueError, match=r"^--config.policy.lrr: 'policy.lrr' is not a config field; did you mean "
                                         r"'policy.lr'\?$"):
        configs.set_field(c, "policy.lrr", "1e-3", "--config.policy.lrr")
    c.diffusion.hiden = 64
    with pytest.raises(ValueError, match=r"config.diffusion.hiden: not a known config field .*; did you mean "
                                         r"'diffusion.hidden'\?$"):
        configs.resolve(c)


# -- 4. the command line ---------------------------------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "dbc_jax.main", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "DBC_JAX_DEBUG": ""})


def test_command_line_errors_are_one_line_with_exit_status_2(tmp_path):
    bad = cli("--config=dbc_jax/configs/maze.py:smoke", "--config.policy.epochs=0",
              f"--config.workdir={tmp_path / 'run'}")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == "error: config.policy.epochs: must be an integer >= 1, got 0"
    assert "Traceback" not in bad.stderr and not os.path.exists(tmp_path / "run")
    flag = cli("--config=dbc_jax/configs/maze.py:smoke", "--config.policy.epochs=many")
    assert flag.returncode == 2 and flag.stderr.strip().splitlines()[-1].startswith(
        "error: flag --config.policy.epochs=many:")
    missing = cli("--mode=eval", f"--workdir={tmp_path / 'nothing'}")
    assert missing.returncode == 2 and "no config.json (not a dbc_jax workdir)" in missing.stderr
    debug = cli("--config=dbc_jax/configs/maze.py:smoke", "--config.policy.epochs=0", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_an_unknown_config_file_field_or_preset_is_one_line():
    missing = cli("--config=dbc_jax/configs/hopper.py:quick")
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        "error: --config=dbc_jax/configs/hopper.py:quick: no such config file (the tasks' configs: "
        + ", ".join(f"dbc_jax/configs/{task}.py" for task in TASKS) + ")"]
    typo = cli("--config=dbc_jax/configs/maze.py:smoke", "--config.policy.lrr=1e-3")
    assert typo.returncode == 2 and typo.stderr.strip().splitlines() == [
        "error: --config.policy.lrr=1e-3: 'policy.lrr' is not a field of dbc_jax/configs/maze.py; did you mean "
        "'policy.lr'?"]
    preset = cli("--config=dbc_jax/configs/maze.py:fast")
    assert preset.returncode == 2 and preset.stderr.strip().splitlines() == [
        "error: unknown preset 'fast' for maze (known: smoke, quick, paper)"]


def test_a_full_disk_or_a_permission_error_names_the_path_and_what_to_do(capsys):
    from dbc_jax.errors import run_cli

    for code, text, advice in ((errno.ENOSPC, "No space left on device", "free some space on that device"),
                               (errno.EACCES, "Permission denied", "make it writable for you")):
        def main(argv, code=code, text=text):
            raise OSError(code, text, "/data/runs/maze/metrics.jsonl")

        with pytest.raises(SystemExit) as stop:
            run_cli(main, ["prog"])
        assert stop.value.code == 1
        assert capsys.readouterr().err == (f"error: {text} (/data/runs/maze/metrics.jsonl): {advice}, or write "
                                           "elsewhere (--config.workdir)\n")


def test_a_broken_config_json_is_named_by_line_and_an_older_checkpoint_is_said(tmp_path, reference, capfd):
    workdir = tmp_path / "copy"
    shutil.copytree(reference[0].workdir, workdir)
    shutil.rmtree(workdir / "checkpoints" / "8")  # the newest checkpoint gone: the older one is evaluated, and said
    evaluate_workdir(str(workdir))
    assert (f"warning: {workdir}: evaluating the newest intact checkpoint, at policy epoch 2 of 4 (the run is "
            "unfinished, or its later checkpoints are gone or damaged)") in capfd.readouterr().err
    (workdir / "config.json").write_text('{"env_name": "maze",\n "algo": dbc}')
    broken = cli("--mode=eval", f"--workdir={workdir}")
    assert broken.returncode == 2 and broken.stderr.strip().splitlines()[-1] == (
        f"error: {workdir}/config.json, line 2, column 10: not valid JSON (Expecting value); the file was edited or "
        "cut short: restore it")


def test_an_unknown_task_is_named_with_the_known_ones_before_anything_runs():
    for target in ("train", "demos", "expert"):
        out = subprocess.run(["make", "-s", target, "ENV=hopper"], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2 and out.stderr.splitlines()[0] == (
            f"error: unknown task 'hopper' (known: {', '.join(TASKS)}; or DATA=minari:<dataset id>)"), out.stderr
        assert "pip" not in out.stdout + out.stderr  # stopped before the install step


def test_sigterm_stops_like_ctrl_c_and_the_run_resumes(tmp_path, demos, reference):
    """``kill`` (SIGTERM) after the first checkpoint, perhaps during the next checkpoint's write: one line, exit status
    130, the write finished first; the same command then finishes the run with the uninterrupted run's parameters."""
    _, final = reference
    workdir = tmp_path / "terminated"
    args = [sys.executable, "-m", "dbc_jax.main", "--config=dbc_jax/configs/maze.py:smoke",
            f"--config.data.path={demos}", f"--config.workdir={workdir}", "--config.checkpoint.max_to_keep=10"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not [e for e in checkpoint_entries(workdir) if "tmp" not in e]:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == "interrupted: rerun the same command to resume from the last checkpoint"
    # No traceback of a cut checkpoint write; only Python's own notice when the signal lands in a garbage-collection
    # callback ("Exception ignored in ..."), after which the run stops at the end of the chunk.
    assert "orbax" not in stderr and stderr.count("Traceback") == stderr.count("Exception ignored in")
    assert not [e for e in checkpoint_entries(workdir) if "tmp" in e]  # no unfinished write left
    finished = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    same_arrays(restore_workdir(str(workdir)).state, final)


# -- 6. SIGKILL at random moments ------------------------------------------------------------------------------------

def checkpoint_entries(workdir):
    return os.listdir(workdir / "checkpoints") if (workdir / "checkpoints").exists() else []


@pytest.mark.slow
def test_killed_at_random_moments_then_resumed_gives_the_same_parameters(tmp_path, demos, reference):
    """The command-line trainer, killed with SIGKILL four times (at random moments after a checkpoint, and once as
    soon as a checkpoint write is seen in progress), then run to the end, ends bit-identical to the uninterrupted run
    and leaves no unfinished write behind."""
    _, final = reference
    workdir = tmp_path / "killed"
    args = [sys.executable, "-m", "dbc_jax.main", "--config=dbc_jax/configs/maze.py:smoke",
            f"--config.data.path={demos}", f"--config.workdir={workdir}", "--config.checkpoint.max_to_keep=10"]
    rng = np.random.default_rng(0)
    kills, mid_write = 0, 0
    for attempt in range(4):
        before = {e for e in checkpoint_entries(workdir) if "tmp" not in e}
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            entries = checkpoint_entries(workdir)
            if attempt == 1 and any("tmp" in e for e in entries):  # a write in progress: kill it now
                mid_write += 1
                break
            if attempt != 1 and {e for e in entries if "tmp" not in e} - before:
                time.sleep(float(rng.uniform(0.0, 1.5)))  # a random moment after the next checkpoint
                break
            time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2
    finished = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    same_arrays(restore_workdir(str(workdir)).state, final)
    assert not [e for e in checkpoint_entries(workdir) if "tmp" in e]
    print(f"{kills} kills, {mid_write} during a checkpoint write")


def test_the_sac_trainer_resumes_from_the_newest_intact_checkpoint(tmp_path):
    """SAC keeps two checkpoints: with the newest damaged, a resumed run starts from the other and ends where an
    uninterrupted run ends."""
    def config(name, **fields):
        c = sac.get_config("walker")
        c.hidden, c.total_steps, c.random_steps, c.updates_per_chunk = (16, 16), 300, 100, 50
        c.eval_every, c.eval_episodes, c.checkpoint_every = 300, 1, 100
        c.out, c.workdir = str(tmp_path / name / "actor.msgpack"), str(tmp_path / name)
        c.update(fields)
        return c

    straight = sac.train(config("straight"), progress=False)
    sac.train(config("split", pause_at=250), progress=False)
    assert sorted(os.listdir(tmp_path / "split" / "checkpoints")) == ["200", "250"]
    overwrite_bytes(biggest_array_file(tmp_path / "split" / "checkpoints" / "250"))
    resumed = sac.train(config("split"), progress=False)
    assert os.path.isdir(tmp_path / "split" / "checkpoints_damaged" / "250")
    strip = lambda card: [{k: v for k, v in h.items() if k != "wall_s"} for h in card["history"]]  # noqa: E731
    assert strip(resumed) == strip(straight)
    same_arrays(sac.load_actor(config("straight").out)[0], sac.load_actor(config("split").out)[0])
