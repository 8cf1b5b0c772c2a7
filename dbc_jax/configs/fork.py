"""PointFork: reach the goal past a block by either side, the expert's side drawn 50/50 from the same start
(``dbc_jax/envs/fork.py``; not one of the paper's tasks: its future work, multimodal demonstrations); metric:
success rate.

Run:
    make train ENV=fork                  # preset quick: DBC, 3 seeds
    make train ENV=fork ALGO=bc          # BC; ALGO=dp: Diffusion Policy; ALGO=ibc: Implicit BC
    make train ENV=fork PRESET=smoke     # the whole pipeline at toy size

Expected (success rate over 100 episodes per run, mean +- std over 5 independent runs (seeds 1..5, DBC with a
diffusion model per run), quick preset, 2-core CPU, 2026-12-06; docs/results.md, "Multimodal demonstrations"):
    BC 36.4 +- 20.5, DBC λ=10 27.4 +- 13.1, λ=30 35.6 +- 23.4, λ=100 40.8 +- 24.7 (make multimodal ARGS="--runs 5
    --lambdas 10 30 100 --methods bc dbc"). No difference between them is shown at 5 runs; both mostly run into the
    block (BC 79.6 +- 13.6 % of episodes, DBC λ=100 60.2 +- 24.4 %). Diffusion Policy (ALGO=dp, 450 epochs):
    100.0 +- 0.0 over 5 runs. Implicit BC: not measured yet. The expert succeeds in every demo.
"""

from ml_collections import ConfigDict

from dbc_jax.configs._base import base_config, shrink_to_quick, shrink_to_smoke
from dbc_jax.configs._baselines import add_baselines


def get_config(preset: str = "quick") -> ConfigDict:
    c = base_config("fork", preset)
    c.env.noise_ratio = 1.0  # start-position/velocity noise scale at reset

    c.data.num_episodes = 100  # demos the expert writes (about 11,500 transitions)
    c.data.expert = ConfigDict({"action_noise": 0.1})  # demo-generator kwargs: N(0, 0.1) action noise

    # Maze's settings: the same point mass and controller.
    c.diffusion.hidden = 128  # denoiser width (3 hidden layers)
    c.diffusion.epochs = 8000  # pretraining passes over the data
    c.diffusion.lr = 1e-4  # Adam learning rate (constant)
    c.diffusion.log_every_epochs = 100  # epochs per compiled chunk: log, progress and checkpoint interval
    c.diffusion.coeff = 30.0  # λ: weight of the diffusion term (Maze's)

    c.policy.hidden_sizes = (256, 256, 256)  # tanh MLP
    c.policy.epochs = 2000
    c.policy.lr = 5e-5  # Adam learning rate, decayed linearly to 0
    c.policy.log_every_epochs = 20  # epochs per compiled chunk

    c.eval.every_epochs = 200  # periodic evaluation interval in policy epochs (0: only at the end)

    if preset == "quick":  # CPU-sized, as Maze's quick preset
        shrink_to_quick(c, diffusion=dict(epochs=300, lr=1e-3, log_every_epochs=25),
                        policy=dict(epochs=150, lr=1e-3, log_every_epochs=10), eval_every_epochs=50)
    elif preset == "smoke":
        shrink_to_smoke(c, num_episodes=10, epochs=4, eval_episodes=4)
    add_baselines(c, preset, dp_hidden=(256, 256, 256), dp_lr=1e-3 if preset == "quick" else 1e-4,
                  ibc_hidden=(256, 256, 256), ibc_lr=1e-3, dp_quick_ddim_steps=0, ibc_quick_samples=128,
                  ibc_quick_hidden=(128, 128))
    if preset == "quick":  # as Maze's: DP needs more epochs than DBC's 150 at quick sizes
        c.algo_overrides.dp.policy.epochs = 450
        c.algo_overrides.dp.eval = ConfigDict({"every_epochs": 150})  # each DDPM evaluation is the costly part
    return c
