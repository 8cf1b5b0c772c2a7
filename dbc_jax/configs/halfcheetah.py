"""HalfCheetah (gymnasium v4 model, the paper's ``HalfCheetah-v3``); metric: return over 1000-step episodes.

Run:
    make train ENV=halfcheetah                  # preset quick: DBC, 3 seeds, on demos from the shipped SAC expert
    make train ENV=halfcheetah ALGO=bc          # BC (lr 1e-4, as the paper's BC config)
    make train ENV=halfcheetah PRESET=paper     # the official hyperparameters (spec 1.6 and 6); GPU-sized
    make train ENV=halfcheetah PRESET=smoke     # the whole pipeline at toy size
    ... ARGS="--config.data.path=.../dbc_paper/halfcheetah.pt"   # the paper's demos instead of ours

Presets: ``paper`` = DM hidden 1024, 8000 epochs, lr 2e-4; policy 2 x 256, lr 2e-4 (BC 1e-4), lambda 0.2,
1000 epochs. ``quick`` = the same policy training with a DM of hidden 256 trained 500 epochs at lr 1e-3 (the
1024-wide DM's 312k paper updates take hours on 2 CPU cores; docs/speed.md) and 300 policy epochs.

Expected (return over 100 episodes per seed, mean +- std over the 3 seeds of config.seed=1; quick preset on a 2-core
CPU, the current code; commands, wall times and dates: docs/paper_table_quick.md):
    on halfcheetah.pt:   DBC 4884.4 +- 57.3, BC 4613.4 +- 99.3, DP 4362.3 +- 23.2 (ALGO=dp), IBC -87.8 +- 423.8
                         (ALGO=ibc). BC at DBC's lr 2e-4: 4815.2 +- 43.7 (docs/results.md).
    on our demos:        DBC 5091.1 +- 15.3, BC 4855.1 +- 255.6, DP 4613.8 +- 28.8, IBC 2578.4 +- 86.2 (the demos'
                         own return: 5142).
    The paper reports DBC 4909.5 +- 73.0, BC 4873.3 +- 69.7, DP 4650.3 +- 59.9, IBC 1563.6 +- 486.8.
    At the paper preset on halfcheetah.pt (the same protocol; DBC 5 h 6 min on the 2-core CPU): DBC 4809.2 +- 29.9,
    BC 4786.4 +- 65.2, both within the spread of the paper's (docs/paper_table_paper.md).
    With agent data (make agent-data ARGS="--tasks halfcheetah": our demos plus the SAC expert's episodes at action
    noise 0.5 making 25% / 50% of the steps; 10 independent runs, mean [95% CI]; docs/results.md, "Learning from
    agent data"): BC 4925 [4894, 4952] / 4887 [4866, 4903], DBC 4988 [4965, 5010] / 4931 [4911, 4952], Diffusion
    Policy 1255 [1088, 1410] / 1753 [1585, 1911]; at 0%: BC 4913, DBC 5069, Diffusion Policy 4456.
"""

from dbc_jax.configs._locomotion import locomotion_config


def get_config(preset: str = "quick"):
    return locomotion_config("halfcheetah", preset, policy_hidden=256, lr=2e-4, bc_lr=1e-4, min_demo_return=4000.0,
                             stochastic_demos=False)
