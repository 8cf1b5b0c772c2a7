"""Any local Minari dataset as a task: BC, DBC, Diffusion Policy or Implicit BC on its demos, evaluated in the
environment it records.

Run:
    make train DATA=minari:<dataset id> [ALGO=bc|dp|ibc] [PRESET=smoke|quick|paper]
    python -m dbc_jax.main --config=dbc_jax/configs/dataset.py:quick,minari:<dataset id>
    dbc_jax.get_config("minari:<dataset id>", "quick")

The dataset must be local (``minari list local``; ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``): on a
machine with internet, ``minari download <id>`` first. Its observations and actions must be flat Box spaces (a
discrete action space or a Dict observation is refused with the space named).

What comes from the dataset (``dbc_jax.data.minari_format.dataset_task``): the dimensions, the evaluation env
(``recover_environment(eval_env=True)``: the dataset's eval_env when it records one), the horizon (the env's time
limit), the metric (success rate where the env's ``info`` reports ``success`` or ``is_success``, else the return)
and the reference scores that normalize a return (``ref_min_score``, ``ref_max_score``) when it has them.

What the preset sizes from the data (d = obs_dim + act_dim, N = the dataset's transitions; every epoch count is
rounded up to whole epochs of N // 128 updates):
    smoke:  DM 32 wide, policy 2 x 32, 4 epochs each, lr 1e-3; 4 evaluation episodes per seed.
    quick:  DM 256 wide for 20,000 updates at lr 1e-3; policy 2 x 256 for 12,000 updates at lr 1e-3.
    paper:  DM 128 wide if d <= 10, 1024 if d <= 64, else 2048 (the official widths: Maze 8 -> 128, FetchPick 20
            and locomotion 23 -> 1024, HandRotate 88 -> 2048) for 300,000 updates at lr 2e-4 (the locomotion tasks'
            312,000); policy 2 x 256 for 40,000 updates at lr 1e-4 (their 39,000).
    Every preset: lambda = 1 (DBC's term weight; untuned: sweep it as one program, e.g. make train DATA=... ARGS=
    "--config.grid.coeff='(0.1,1,10)'"), 3 seeds, 100 evaluation episodes per seed (smoke: 4), evaluated at the
    chunk ends at or past a third and two thirds of policy training and at its end; z-scored data; Diffusion
    Policy and Implicit BC 3 x 256 (lr 1e-4 and 5e-4; quick: 10 DDIM steps, IBC 2 x 256 with 64 samples).
Override any of it with --config.<field>=<value>.
"""

from __future__ import annotations

import math

from ml_collections import ConfigDict

from dbc_jax.configs._base import base_config, shrink_to_smoke
from dbc_jax.configs._baselines import add_baselines

QUICK_UPDATES = {"diffusion": 20_000, "policy": 12_000}
PAPER_UPDATES = {"diffusion": 300_000, "policy": 40_000}


def paper_width(dims: int) -> int:
    """The official denoiser widths by the joint input size d = obs_dim + act_dim (spec section 1.6)."""
    return 128 if dims <= 10 else 1024 if dims <= 64 else 2048


def get_config(arg: str = "quick,") -> ConfigDict:
    """``arg``: ``"<preset>,minari:<dataset id>"`` (the command line's ``dataset.py:quick,minari:<id>``)."""
    preset, _, data = arg.partition(",")
    if not data.startswith("minari:"):
        raise ValueError(f"dbc_jax/configs/dataset.py:{arg}: expected <preset>,minari:<dataset id>, e.g. "
                         "quick,minari:mujoco/pusher/expert-v0 (make train DATA=minari:<id>)")
    from dbc_jax.data.minari_format import open_local
    from dbc_jax.tasks import get_task

    task = get_task(data)  # every check on the dataset and its env, before anything else
    items = open_local(data[len("minari:"):]).total_steps
    c = base_config(data, preset or "quick")
    c.data.path = data  # the dataset is the data source; there is no expert to make demos
    c.data.num_episodes = 1  # unused (no expert makes demos): the dataset holds its own episodes
    c.diffusion.coeff = 1.0  # λ, untuned (module docstring)
    c.diffusion.log_every_epochs = 1
    c.policy.hidden_sizes = (256, 256)  # tanh MLP
    c.policy.log_every_epochs = 1
    if c.preset == "smoke":
        shrink_to_smoke(c, num_episodes=1, epochs=4, eval_episodes=4)
    else:
        updates = QUICK_UPDATES if c.preset == "quick" else PAPER_UPDATES
        c.diffusion.hidden = 256 if c.preset == "quick" else paper_width(task.obs_dim + task.act_dim)
        c.diffusion.lr = 1e-3 if c.preset == "quick" else 2e-4
        c.policy.lr = 1e-3 if c.preset == "quick" else 1e-4
        for section in ("diffusion", "policy"):
            per_epoch = max(1, items // c[section].batch_size)
            c[section].epochs = math.ceil(updates[section] / per_epoch)
            c[section].log_every_epochs = max(1, c[section].epochs // 12)  # about 12 chunks: log and checkpoint
        chunk = c.policy.log_every_epochs
        c.eval.every_epochs = chunk * math.ceil(c.policy.epochs / 3 / chunk)  # a chunk end at or past each third
    add_baselines(c, c.preset, dp_hidden=(256, 256, 256), dp_lr=1e-4, ibc_hidden=(256, 256, 256), ibc_lr=5e-4,
                  dp_quick_ddim_steps=10, ibc_quick_samples=64, ibc_quick_hidden=(256, 256))
    return c
