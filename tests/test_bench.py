"""The training bench's measurements are of the programs docs/speed.md says they are (no timing thresholds)."""

import os
import sys

import jax
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import bench_train  # noqa: E402


def test_bounds_split_the_diffusion_update():
    """Maze's diffusion model: 419,208 parameters, 384,000 of them the three 1000 x 128 t-embedding tables; the
    forward and backward pass alone does less work than the whole update, and every timing is positive."""
    r = bench_train.bounds("maze", steps=2)
    assert (r["params"], r["table_params"]) == (419_208, 384_000)
    assert 0.5 * r["update_flops"] < r["forward_backward_flops"] < r["update_flops"]
    assert min(r["update_ms"], r["forward_backward_ms"], r["optimizer_ms"]) > 0
    assert r["policy_width"] == 256 and r["policy_matmul_flops_per_s"] > 0


def test_flop_count_is_one_update_whatever_the_epochs():
    """XLA counts a scanned chunk's body once: the count of 1 and 2 epochs agree (checked inside) and is one
    Maze diffusion update's work, as docs/speed.md's table gives it."""
    config, data = bench_train.case_config("maze", 1)
    fns = bench_train.make_train(config, data.obs.shape[1], data.actions.shape[1])
    state = fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams())
    flops = bench_train.flops_per_update(fns.model_epochs, state, data)
    assert flops == pytest.approx(39.6e6, rel=0.01)  # docs/speed.md's Maze diffusion row
