"""The shared body of the HalfCheetah and Walker2d configs (spec sections 1.6 and 6); the task files set what
differs: the policy width and learning rates."""

from ml_collections import ConfigDict

from dbc_jax.configs._base import base_config, learned_expert, shrink_to_quick, shrink_to_smoke
from dbc_jax.configs._baselines import add_baselines


def locomotion_config(env_name: str, preset: str, policy_hidden: int, lr: float, bc_lr: float,
                      min_demo_return: float, stochastic_demos: bool) -> ConfigDict:
    c = base_config(env_name, preset)
    c.algo_overrides = ConfigDict({"bc": {"policy": {"lr": bc_lr}}})  # the paper tuned BC's lr apart
    # c.env: none (the v4 defaults)

    c.data.num_episodes = 5  # demos the expert writes (the paper's files hold 5 x 1000 steps)
    c.data.expert = learned_expert(stochastic_demos, min_demo_return)  # the shipped SAC expert's demo settings

    c.diffusion.hidden = 1024  # denoiser width (3 hidden layers)
    c.diffusion.epochs = 8000  # pretraining passes over the data
    c.diffusion.lr = 2e-4  # Adam learning rate (constant)
    c.diffusion.log_every_epochs = 200  # epochs per compiled chunk: log, progress and checkpoint interval
    c.diffusion.coeff = 0.2  # λ: weight of the diffusion term

    c.policy.hidden_sizes = (policy_hidden, policy_hidden)  # tanh MLP
    c.policy.epochs = 1000  # 39 updates each
    c.policy.lr = lr  # Adam learning rate, decayed linearly to 0
    c.policy.log_every_epochs = 10  # epochs per compiled chunk

    c.eval.every_epochs = 50  # periodic evaluation interval in policy epochs (~2000 updates, as the official)

    if preset == "quick":  # CPU-sized; see the task file's docstring
        shrink_to_quick(c, diffusion=dict(hidden=256, epochs=500, lr=1e-3, log_every_epochs=50),
                        policy=dict(epochs=300), eval_every_epochs=100)
    elif preset == "smoke":
        shrink_to_smoke(c, num_episodes=1, epochs=2, eval_episodes=2)
        c.algo_overrides = ConfigDict({"bc": {}})
    # Baselines: 3 x 512 nets; lr 1e-4 (Diffusion Policy's AdamW lr) and 5e-4 (IBC's D4RL configs). `quick`
    # samples DP by 10 DDIM steps and IBC from 64 candidates at 2 x 256 (evaluation cost: 1000-step episodes).
    add_baselines(c, preset, dp_hidden=(512, 512, 512), dp_lr=1e-4, ibc_hidden=(512, 512, 512), ibc_lr=5e-4,
                  dp_quick_ddim_steps=10, ibc_quick_samples=64, ibc_quick_hidden=(256, 256))
    if preset == "quick":  # IBC on 2 cores: ~12 s per epoch (128 x 65 energies per batch), ~8 min per evaluation
        c.algo_overrides.ibc.policy.epochs = 100
        c.algo_overrides.ibc.eval = ConfigDict({"every_epochs": 100})
    return c
