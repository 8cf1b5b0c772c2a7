"""The shared body of the HalfCheetah and Walker2d configs (spec sections 1.6 and 6); the task files set what
differs: the policy width and learning rates."""

from ml_collections import ConfigDict

from dbc_jax.configs._baselines import add_baselines

PRESETS = ("smoke", "quick", "paper")


def locomotion_config(env_name: str, preset: str, policy_hidden: int, lr: float, bc_lr: float,
                      min_demo_return: float, stochastic_demos: bool) -> ConfigDict:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}' for {env_name} (known: {', '.join(PRESETS)})")
    c = ConfigDict()
    c.env_name = env_name  # task key in dbc_jax.envs.TASKS
    c.preset = preset  # preset name, used in the default workdir
    c.algo = "dbc"  # "dbc", "bc" (DBC with policy.coeff_dm = 0), "dp" (Diffusion Policy) or "ibc" (Implicit BC)
    c.seed = 1  # root of every random draw (init, batches, noise, eval episodes)
    c.num_seeds = 3  # policies trained together in one vmapped program
    c.workdir = ""  # "" -> runs/<env>_<algo>_<preset>_seed<seed>; an existing one is resumed
    c.algo_overrides = ConfigDict({"bc": {"policy": {"lr": bc_lr}}})  # the paper tuned BC's lr apart

    c.env = ConfigDict()  # gymnasium kwargs of the env (none: the v4 defaults)

    c.data = ConfigDict()
    c.data.path = ""  # "" -> data/<env>_expert_<num_episodes>ep.npz from the shipped SAC expert; or a .npz / .pt
    c.data.num_episodes = 5  # demos the expert writes (the paper's files hold 5 x 1000 steps)
    c.data.seed = 0  # seed of the demo episodes' start states
    c.data.expert = ConfigDict()  # demo-generator kwargs
    c.data.expert.weights = ""  # "" -> dbc_jax/experts/weights/<env>_sac.msgpack
    c.data.expert.min_return = min_demo_return  # demo episodes below this return are redrawn
    c.data.expert.stochastic = stochastic_demos  # record sampled actions (True) or the actor's mean (False)
    c.data.expert.dart_noise = 0.0  # sigma of N(0, sigma^2) added to executed actions; recorded labels stay clean

    c.dm = ConfigDict()
    c.dm.hidden = 1024  # denoiser width (3 hidden layers)
    c.dm.num_steps = 1000  # diffusion steps T
    c.dm.epochs = 8000  # pretraining passes over the data
    c.dm.lr = 2e-4  # Adam learning rate (constant)
    c.dm.batch_size = 128
    c.dm.grad_clip = 0.5  # global grad-norm clip
    c.dm.shared = True  # one diffusion model for all seeds (as the paper); False: one per seed
    c.dm.log_every_epochs = 200  # epochs per compiled chunk: log, progress and checkpoint interval

    c.policy = ConfigDict()
    c.policy.hidden_sizes = (policy_hidden, policy_hidden)  # tanh MLP
    c.policy.epochs = 1000
    c.policy.lr = lr  # Adam learning rate, decayed linearly to 0
    c.policy.adam_eps = 1e-12
    c.policy.batch_size = 128  # the last partial batch of each epoch is dropped (39 updates per epoch)
    c.policy.grad_clip = 0.5
    c.policy.coeff_bc = 1.0  # weight of the BC (MSE) term
    c.policy.coeff_dm = 0.2  # lambda: weight of the diffusion term
    c.policy.agent_expert_normalization = True  # hinge on L_agent - L_expert (False: on L_agent alone)
    c.policy.log_every_epochs = 10  # epochs per compiled chunk

    c.eval = ConfigDict()
    c.eval.num_episodes = 100  # episodes per seed (1000 steps each unless Walker2d falls)
    c.eval.every_epochs = 50  # periodic evaluation interval in policy epochs (~2000 updates, as the official)
    c.eval.backend = "auto"  # "c" (gymnasium envs), "mjx" (one jitted scan); auto: mjx on GPU/TPU, c on CPU

    c.checkpoint = ConfigDict()
    c.checkpoint.max_to_keep = 2  # orbax keeps this many latest checkpoints

    if preset == "quick":  # CPU-sized; see the task file's docstring
        c.dm.hidden = 256
        c.dm.epochs = 500
        c.dm.lr = 1e-3
        c.dm.log_every_epochs = 50
        c.policy.epochs = 300
        c.eval.every_epochs = 100
    elif preset == "smoke":
        c.data.num_episodes = 1
        c.dm.hidden = 32
        c.dm.epochs = 2
        c.dm.lr = 1e-3
        c.dm.log_every_epochs = 1
        c.policy.hidden_sizes = (32, 32)
        c.policy.epochs = 2
        c.policy.lr = 1e-3
        c.policy.log_every_epochs = 1
        c.eval.num_episodes = 2
        c.eval.every_epochs = 1
        c.algo_overrides = ConfigDict({"bc": {}})
    # Baselines: 3 x 512 nets; lr 1e-4 (Diffusion Policy's AdamW lr) and 5e-4 (IBC's D4RL configs). `quick`
    # samples DP by 10 DDIM steps and IBC from 64 candidates at 2 x 256 (evaluation cost: 1000-step episodes).
    add_baselines(c, preset, dp_hidden=(512, 512, 512), dp_lr=1e-4, ibc_hidden=(512, 512, 512), ibc_lr=5e-4,
                  dp_quick_ddim_steps=10, ibc_quick_samples=64, ibc_quick_hidden=(256, 256))
    if preset == "quick":  # IBC on 2 cores: ~12 s per epoch (128 x 65 energies per batch), ~8 min per evaluation
        c.algo_overrides.ibc.policy.epochs = 100
        c.algo_overrides.ibc.eval = ConfigDict({"every_epochs": 100})
    return c
