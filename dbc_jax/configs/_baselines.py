"""The baselines' config sections (Diffusion Policy, Implicit BC), shared by every task; the task file passes
what differs. Fields the baselines share with DBC's policy (width, lr, epochs) go through
``config.algo_overrides.<algo>.policy``, so one run's settings stay in one place."""

from ml_collections import ConfigDict


def add_baselines(c: ConfigDict, preset: str, *, dp_hidden, dp_lr: float, ibc_hidden, ibc_lr: float,
                  dp_quick_ddim_steps: int, ibc_quick_samples: int, ibc_quick_hidden) -> None:
    """``quick`` shrinks what costs most on a CPU (``make bench BENCH=policy``): DP's sampling steps, IBC's
    candidates and width (it evaluates the energy of every candidate, 4 passes per action) and its negatives."""
    c.dp = ConfigDict()
    c.dp.num_steps = 100  # DDPM steps T on the cosine schedule (Diffusion Policy: 100 train and inference steps)
    c.dp.ddim_steps = 0  # 0: DDPM ancestral sampling over all T steps; N > 0: deterministic DDIM on N steps

    c.ibc = ConfigDict()
    c.ibc.num_negatives = 256  # uniform counter-examples per pair (IBC's state-based DFO config: 256)
    c.ibc.temperature = 1.0  # softmax temperature of InfoNCE and of the DFO resampling
    c.ibc.bounds_margin = 0.05  # sample within the data's action range widened by this fraction (IBC: 0.05)
    c.ibc.inference = "dfo"  # "dfo" (derivative-free optimizer, IBC's default) or "langevin"
    c.ibc.num_samples = 16384  # candidate actions per state at inference (IBC's DFO config: 16384)
    c.ibc.dfo_iterations = 3  # resample-and-perturb rounds (IBC's DFO: 3)
    c.ibc.noise_scale = 0.33  # first DFO perturbation std, fraction of the bounds' half-range (IBC: 0.33)
    c.ibc.noise_shrink = 0.5  # the std shrinks by this factor each round (IBC: 0.5)
    c.ibc.langevin_steps = 100  # Langevin gradient steps (IBC's D4RL Langevin config: 100)
    c.ibc.langevin_step_size = 0.5  # first Langevin step size (IBC's D4RL Langevin config: 0.5)

    c.algo_overrides.dp = ConfigDict({"policy": {"hidden_sizes": tuple(dp_hidden), "lr": dp_lr, "adam_eps": 1e-8}})
    c.algo_overrides.ibc = ConfigDict({"policy": {"hidden_sizes": tuple(ibc_hidden), "lr": ibc_lr,
                                                  "adam_eps": 1e-8}})
    if preset == "quick":
        c.dp.ddim_steps = dp_quick_ddim_steps
        c.ibc.num_samples = ibc_quick_samples
        c.ibc.num_negatives = 64  # CPU: each update evaluates the energy of batch x (1 + negatives) pairs
        c.algo_overrides.ibc.policy.hidden_sizes = tuple(ibc_quick_hidden)
    elif preset == "smoke":
        c.dp.num_steps = 10
        c.ibc.num_negatives = 16
        c.ibc.num_samples = 64
        c.ibc.langevin_steps = 10
        for algo in ("dp", "ibc"):
            c.algo_overrides[algo].policy.hidden_sizes = (32, 32)
            c.algo_overrides[algo].policy.lr = 1e-3
