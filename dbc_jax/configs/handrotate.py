"""HandRotate (the paper's ``CustomHandManipulateBlockRotateZ-v2``: the Shadow hand turns a block to a target yaw
within 50 steps; success ends the episode); metric: success rate.

Run:
    make demos ENV=handrotate                # successful episodes of the shipped SAC expert, 10,000 transitions
    make train ENV=handrotate                # preset quick: DBC, 3 seeds (demos are made on first use)
    make train ENV=handrotate ALGO=bc        # BC: the same run without the diffusion model
    make train ENV=handrotate PRESET=paper   # the official hyperparameters (spec 1.6, notes 5); GPU-sized
    make train ENV=handrotate PRESET=smoke   # the whole pipeline at toy size

Presets: ``paper`` = the official HandRotate settings (the 2024 reproduction configs, notes section 5): DM hidden
2048 on the 88 = 68 + 20 dims, 10,000 epochs at lr 3e-5; BC and DBC 2 x 512 at lr 1e-4 for 5,000 epochs, lambda
10; Diffusion Policy 4 x 2100 at lr 1e-4 for 30,000 epochs with 1000-step DDPM sampling; Implicit BC 1 x 512 at
lr 1e-5 for 15,000 epochs, batch 512, 256 negatives, DFO from 1000 candidates. ``quick`` = CPU-sized: a DM of
hidden 1024 trained 500 epochs at lr 3e-4, 300 policy epochs at lr 1e-3; DP 3 x 512 sampled by 10 DDIM steps, IBC
2 x 256 from 128 candidates. The DM is wider than the other tasks' quick 256 because the denoiser must carry the
88-D pairs through its ReLU layers: at 256 its eps-loss on the demos' action dimensions was 1.000 (no better than
predicting zero), the demos' actions scored no better than shuffled ones and DBC's term was zero from the first
epoch; at 1024 that loss is 0.623 (``experiments/probe_model.py``; docs/results.md, HandRotate).

Expected (success rate over 100 episodes per seed, mean +- std over the 3 seeds of config.seed=1; quick preset on
a 2-core CPU, the current code; commands, wall times and dates: docs/paper_table_quick.md):
    DBC 94.7 +- 2.9, BC 96.7 +- 2.5, Diffusion Policy 95.3 +- 2.1 (ALGO=dp), Implicit BC 33.0 +- 3.7 (ALGO=ibc).
    The paper: DBC 60.1 +- 4.4, BC 57.5 +- 4.7, DP 61.7 +- 4.1, IBC 13.8 +- 3.7, on its own (unreleased) demos; ours
    are at our expert's ceiling (about 96%), where DBC and BC cannot differ (docs/results.md, HandRotate).
"""

from ml_collections import ConfigDict

from dbc_jax.configs._base import base_config, learned_expert, shrink_to_quick, shrink_to_smoke
from dbc_jax.configs._baselines import add_baselines


def get_config(preset: str = "quick") -> ConfigDict:
    c = base_config("handrotate", preset)
    c.env.noise_ratio = 1.0  # scale of the block's initial position noise N(0, 0.005) (the official --noise-ratio)

    c.data.num_episodes = 2000  # a cap: the demos are counted in transitions (below)
    c.data.expert = learned_expert()  # the shipped SAC expert's actor mean; successful episodes only
    c.data.expert.num_transitions = 10000  # the authors' hand.pt size; episodes end on success, so counted in steps

    c.diffusion.hidden = 2048  # denoiser width (3 hidden layers)
    c.diffusion.epochs = 10000  # pretraining passes over the data
    c.diffusion.lr = 3e-5  # Adam learning rate (constant)
    c.diffusion.log_every_epochs = 250  # epochs per compiled chunk: log, progress and checkpoint interval
    c.diffusion.coeff = 10.0  # λ: weight of the diffusion term (the 2024 reproduction config; the 2023 one: 1)

    c.policy.hidden_sizes = (512, 512)  # tanh MLP
    c.policy.epochs = 5000  # 78 updates each
    c.policy.lr = 1e-4  # Adam learning rate, decayed linearly to 0
    c.policy.log_every_epochs = 50  # epochs per compiled chunk

    c.eval.every_epochs = 250  # periodic evaluation interval in policy epochs (0: only at the end)

    if preset == "quick":  # CPU-sized; see the docstring. A 256-wide denoiser learns nothing of the 88-D pairs' actions
        shrink_to_quick(c, diffusion=dict(hidden=1024, epochs=500, lr=3e-4, log_every_epochs=50),
                        policy=dict(epochs=300, lr=1e-3, log_every_epochs=25), eval_every_epochs=100)
    elif preset == "smoke":
        shrink_to_smoke(c, num_episodes=100, epochs=4, eval_episodes=4)
        c.data.expert.num_transitions = 300
    # Baselines (notes section 5): DP a 4 x 2100 noise MLP at lr 1e-4 sampled by 1000 DDPM steps, 30,000 epochs;
    # IBC a 1 x 512 energy MLP at lr 1e-5, 15,000 epochs, batch 512, DFO from 1000 candidates. quick trains them as
    # long as DBC at lr 1e-3, DP sampled by 10 DDIM steps and IBC from 128 candidates at 2 x 256.
    add_baselines(c, preset, dp_hidden=(2100,) * 4, dp_lr=1e-3 if preset == "quick" else 1e-4,
                  ibc_hidden=(512,), ibc_lr=1e-3 if preset == "quick" else 1e-5,
                  dp_quick_ddim_steps=10, ibc_quick_samples=128, ibc_quick_hidden=(256, 256))
    if preset == "paper":
        c.dp.num_steps = 1000
        c.ibc.num_samples = 1000
        c.algo_overrides.dp.policy.epochs = 30000
        c.algo_overrides.ibc.policy.epochs = 15000
        c.algo_overrides.ibc.policy.batch_size = 512
    if preset == "quick":
        c.algo_overrides.dp.policy.hidden_sizes = (512, 512, 512)
    return c
