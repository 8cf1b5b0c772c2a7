"""TensorBoard event files mirror metrics.jsonl: the same values, at one update count through both phases."""

import glob
import importlib.util
import json
import os
import struct

import pytest

import dbc_jax
from dbc_jax.demos import make_demos


def read_scalars(folder):
    """{tag: [(step, value)]} from the TFRecord-framed event files of ``folder`` (tensorboardX's protobufs)."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            data = f.read()
        i = 0
        while i < len(data):
            (length,) = struct.unpack("<Q", data[i:i + 8])
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + length])
            i += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tb")
    c = dbc_jax.get_config("maze", "smoke")
    c.data.path, c.workdir = str(tmp / "demos.npz"), str(tmp / "run")
    make_demos(c, c.data.path, progress=False)
    return dbc_jax.train(c, progress=False)


def test_event_files_hold_every_logged_metric_and_each_seeds_evaluation(run):
    scalars = read_scalars(os.path.join(run.workdir, "tensorboard"))
    records = [json.loads(line) for line in open(run.paths["metrics"])]
    model = [r for r in records if r["phase"] == "model"]
    pretrain_updates = model[-1]["update"]
    assert scalars["pretrain/model/loss"] == [(r["update"], pytest.approx(r["model/loss"])) for r in model]
    policy = [r for r in records if r["phase"] == "policy"]
    for name in ("bc/mse", "loss/total", "model/term", "policy/grad_norm", "policy/nonfinite_params"):
        assert scalars[f"policy/{name}"] == [(pretrain_updates + r["update"], pytest.approx(r[name])) for r in policy]
    evals = [r for r in records if r["phase"] == "eval"]
    for seed in range(3):
        for metric in ("success", "return", "length"):
            assert scalars[f"eval/{metric}/seed_{seed}"] == [
                (pretrain_updates + r["update"], pytest.approx(r[metric][seed])) for r in evals]
    final = read_scalars(os.path.join(run.workdir, "tensorboard", "hparams"))["final/success/mean"]
    assert [value for _, value in final] == [pytest.approx(run.per_member.mean() / 100)]  # a rate, as eval/


def test_grid_members_are_named_by_their_point_and_seed(tmp_path, run):
    c = dbc_jax.get_config("maze", "smoke")
    c.data.path, c.workdir, c.num_seeds = run.config.data.path, str(tmp_path / "grid"), 1
    c.grid.coeff = (0.0, 30.0)
    dbc_jax.train(c, progress=False)
    tags = read_scalars(os.path.join(c.workdir, "tensorboard"))
    assert {"eval/success/coeff_0-seed_0", "eval/success/coeff_30-seed_0"} <= set(tags)


def test_tensorboard_off_writes_no_events_and_wandb_needs_its_package(tmp_path, run):
    c = dbc_jax.get_config("maze", "smoke")
    c.data.path, c.workdir, c.log.tensorboard = run.config.data.path, str(tmp_path / "off"), False
    dbc_jax.train(c, progress=False)
    assert not os.path.exists(os.path.join(c.workdir, "tensorboard"))
    if importlib.util.find_spec("wandb") is None:
        c.log.wandb, c.workdir = True, str(tmp_path / "wandb")
        with pytest.raises(ValueError, match=r"config.log.wandb: True needs the wandb package \(pip install wandb\)"):
            dbc_jax.train(c, progress=False)
        assert not os.path.exists(c.workdir)
