"""Maze2D-Medium (the paper's ``maze2d-medium-v2``, target in the observation); metric: success rate.

Run:
    make train ENV=maze                  # preset quick: DBC, 3 seeds; 2 min 59 s on 2 CPU cores from a clean clone
                                         # (README, "How long")
    make train ENV=maze ALGO=bc          # BC: the same run without the diffusion model
    make train ENV=maze ALGO=dp          # Diffusion Policy; ALGO=ibc: Implicit BC (same data, harness, protocol)
    make train ENV=maze PRESET=paper     # the official hyperparameters (spec section 1.6 and 6)
    make train ENV=maze PRESET=smoke     # the whole pipeline at toy size, under a minute
    make train ENV=maze ARGS="--config.model=ebm"   # DBC's term with an EBM (or vae, gan) as the joint model
    make ablation-models [PRESET=paper]  # the four joint models with and without BC, beside BC (results:
                                         # docs/results.md, "The generative-model ablation"; quick: 17 min on 2 cores)
    ... ARGS="--config.data.path=.../dbc_paper/maze.pt"   # the paper's demos instead of ours

Expected (success rate over 100 episodes per seed, mean +- std over the 3 seeds of config.seed=1, on a 2-core CPU;
quick rows: the current code, commands, wall times and dates: docs/paper_table_quick.md):
    quick on our demos:     DBC 89.3 +- 5.2 (bar: >= 85), BC 93.0 +- 2.9, DP 92.7 +- 2.1 (ALGO=dp),
                            IBC 83.0 +- 3.6 (ALGO=ibc).
    quick on maze.pt:       DBC 92.7 +- 2.1, BC 93.3 +- 3.1, DP 92.0 +- 0.8, IBC 83.3 +- 1.7.
    paper on maze.pt:       DBC 93.3 +- 0.5 (73 min), BC 92.7 +- 1.7 (26 min); measured 2026-11-22, DBC before b022511
                            (docs/results.md, with the 1000-episode re-evaluation).
    DBC moves with the draw of its shared diffusion model by more than its seeds' spread: before b022511 (2026-11-23,
    which changed that model's pretraining in float32 rounding) quick on our demos gave 92.7 +- 1.2
    (docs/results.md, top).
    The paper reports DBC 95.4 +- 1.7, BC 92.1 +- 3.6, DP 95.5 +- 1.9, IBC 78.3 +- 6.0.
    With agent data (make agent-data: our demos plus a noisy agent's steps making 25% / 50% of them; 10 independent
    runs, mean [95% CI]; docs/results.md, "Learning from agent data"): BC 84.9 [83.4, 86.3] / 83.1 [81.4, 85.2],
    DBC 90.9 [89.4, 92.5] / 90.6 [89.1, 92.1], Diffusion Policy 89.2 [87.1, 91.2] / 88.5 [86.6, 90.4]; at 0%: BC
    93.1, DBC 93.0, Diffusion Policy 93.5.
"""

from ml_collections import ConfigDict

from dbc_jax.configs._base import base_config, shrink_to_quick, shrink_to_smoke
from dbc_jax.configs._baselines import add_baselines


def get_config(preset: str = "quick") -> ConfigDict:
    c = base_config("maze", preset)
    c.env.noise_ratio = 1.0  # start-position/velocity noise scale at reset
    c.env.goal_noise_ratio = 1.0  # target-position noise scale at reset

    c.data.num_episodes = 100  # demos the expert writes (the paper's maze.pt has 100)
    c.data.expert = ConfigDict({"action_noise": 0.5})  # demo-generator kwargs; N(0, 0.5) action noise as in maze.pt

    c.diffusion.hidden = 128  # denoiser width (3 hidden layers)
    c.diffusion.epochs = 8000  # pretraining passes over the data
    c.diffusion.lr = 1e-4  # Adam learning rate (constant)
    c.diffusion.log_every_epochs = 100  # epochs per compiled chunk: log, progress and checkpoint interval
    c.diffusion.coeff = 30.0  # λ: weight of the diffusion term

    c.policy.hidden_sizes = (256, 256, 256)  # tanh MLP
    c.policy.epochs = 2000
    c.policy.lr = 5e-5  # Adam learning rate, decayed linearly to 0
    c.policy.log_every_epochs = 14  # epochs per compiled chunk (14 x 144 updates ~ the official 2000)

    c.eval.every_epochs = 140  # periodic evaluation interval in policy epochs (0: only at the end)

    if preset == "quick":  # CPU-sized: 300 DM epochs (not 8000) and 150 policy epochs (not 2000) at 10-20x the lr
        shrink_to_quick(c, diffusion=dict(epochs=300, lr=1e-3, log_every_epochs=25),
                        policy=dict(epochs=150, lr=1e-3, log_every_epochs=10), eval_every_epochs=50)
    elif preset == "smoke":
        shrink_to_smoke(c, num_episodes=10, epochs=4, eval_episodes=4)
    # Baselines: 3 x 256 nets like DBC's policy; lr 1e-4 (Diffusion Policy's AdamW lr) and 1e-3 (IBC's state-based
    # configs). `quick` trains DP at DBC's quick lr 1e-3 and keeps DDPM's 100 steps (~0.25 s per step of 300 envs);
    # IBC gets 128 candidates and 2 x 128 (1024 candidates at 3 x 256: ~6 s per step).
    add_baselines(c, preset, dp_hidden=(256, 256, 256), dp_lr=1e-3 if preset == "quick" else 1e-4,
                  ibc_hidden=(256, 256, 256), ibc_lr=1e-3, dp_quick_ddim_steps=0, ibc_quick_samples=128,
                  ibc_quick_hidden=(128, 128))
    if preset == "quick":  # DP was still climbing at DBC's 150 epochs (measured 53 -> 69 -> 81% at 50/100/150)
        c.algo_overrides.dp.policy.epochs = 450
        c.algo_overrides.dp.eval = ConfigDict({"every_epochs": 150})  # each DDPM evaluation costs ~2.5 min on CPU
    return c
