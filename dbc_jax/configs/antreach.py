"""AntReach (the paper's ``AntGoal-v0``: the Ant walks to a goal 5 m away within 50 steps); metric: success rate.

Run:
    make demos ENV=antreach                  # 200 successful episodes of the shipped SAC expert = 10,000 transitions
    make train ENV=antreach                  # preset quick: DBC, 3 seeds (demos are made on first use)
    make train ENV=antreach ALGO=bc          # BC: the same run without the diffusion model
    make train ENV=antreach PRESET=paper     # the official hyperparameters (spec 1.6 and 6, notes 5); GPU-sized
    make train ENV=antreach PRESET=smoke     # the whole pipeline at toy size

Presets: ``paper`` = the official AntReach settings: raw (unnormalized) observations and actions for the diffusion
model and every policy (the official configs turn every normalization off); DM hidden 1024, 20,000 epochs, lr 2e-4;
BC and DBC 2 x 1024 at lr 6e-3 for 10,000 epochs (78 updates each), lambda 1; Diffusion Policy 4 x 1200 at lr 1e-5
and Implicit BC 1 x 1200 at lr 5e-5, 30,000 epochs each. ``quick`` = CPU-sized like the other tasks' quick
presets: z-scored data (the official raw-data settings are tuned for its 10,000 epochs at lr 6e-3), a DM of
hidden 256 trained 500 epochs at lr 1e-3, and 300 policy epochs at lr 1e-3; DP 3 x 512 and IBC 2 x 256 at lr 1e-3.

Expected (success rate over 100 episodes per seed, mean +- std over the 3 seeds of config.seed=1; quick preset on
a 2-core CPU, the current code; commands, wall times and dates: docs/paper_table_quick.md):
    DBC 68.3 +- 6.5, BC 67.3 +- 2.5, Diffusion Policy 87.3 +- 1.7 (ALGO=dp), Implicit BC 39.3 +- 2.5 (ALGO=ibc).
    The paper: DBC 70.1 +- 4.9, BC 56.2 +- 4.9, DP 61.8 +- 4.0, IBC 23.7 +- 4.9, on its own (unreleased) demos.
"""

from ml_collections import ConfigDict

from dbc_jax.configs._base import base_config, learned_expert, shrink_to_quick, shrink_to_smoke
from dbc_jax.configs._baselines import add_baselines


def get_config(preset: str = "quick") -> ConfigDict:
    c = base_config("antreach", preset)
    c.env.reset_noise = 0.01  # U(-noise, noise) on every initial qpos entry (the official --ant-noise)

    c.data.num_episodes = 200  # successful 50-step demos: 10,000 transitions (the authors' dataset size)
    c.data.normalize = False  # the official AntReach: the DM and the policies see raw values
    c.data.expert = learned_expert()  # the shipped SAC expert's actor mean; successful episodes only (no return bar)

    c.diffusion.hidden = 1024  # denoiser width (3 hidden layers)
    c.diffusion.epochs = 20000  # pretraining passes over the data
    c.diffusion.lr = 2e-4  # Adam learning rate (constant)
    c.diffusion.log_every_epochs = 500  # epochs per compiled chunk: log, progress and checkpoint interval
    c.diffusion.coeff = 1.0  # λ: weight of the diffusion term

    c.policy.hidden_sizes = (1024, 1024)  # tanh MLP
    c.policy.epochs = 10000  # 78 updates each
    c.policy.lr = 6e-3  # Adam learning rate, decayed linearly to 0 (the official AntReach BC and DBC)
    c.policy.log_every_epochs = 50  # epochs per compiled chunk

    c.eval.every_epochs = 500  # periodic evaluation interval in policy epochs (0: only at the end)

    if preset == "quick":  # CPU-sized; see the docstring
        c.data.normalize = True
        shrink_to_quick(c, diffusion=dict(hidden=256, epochs=500, lr=1e-3, log_every_epochs=50),
                        policy=dict(epochs=300, lr=1e-3, log_every_epochs=25), eval_every_epochs=100)
    elif preset == "smoke":
        shrink_to_smoke(c, num_episodes=4, epochs=4, eval_episodes=4)
    # Baselines (notes section 5): DP a 4 x 1200 noise MLP at lr 1e-5, IBC a 1 x 1200 energy MLP at lr 5e-5, 30,000
    # epochs each in the paper preset; quick trains them as long as DBC at lr 1e-3, DP sampled by 10 DDIM steps and
    # IBC from 128 candidates at 2 x 256.
    add_baselines(c, preset, dp_hidden=(1200,) * 4, dp_lr=1e-3 if preset == "quick" else 1e-5,
                  ibc_hidden=(1200,), ibc_lr=1e-3 if preset == "quick" else 5e-5,
                  dp_quick_ddim_steps=10, ibc_quick_samples=128, ibc_quick_hidden=(256, 256))
    if preset == "paper":
        for algo in ("dp", "ibc"):
            c.algo_overrides[algo].policy.epochs = 30000
    if preset == "quick":
        c.algo_overrides.dp.policy.hidden_sizes = (512, 512, 512)
    return c
