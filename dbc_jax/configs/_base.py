"""The config fields every task shares, with their defaults (the official code's, spec sections 1.5 and 6); each
task file (maze.py, fetchpick.py, _locomotion.py) adds its env, data, network sizes, schedules and presets."""

from ml_collections import ConfigDict

PRESETS = ("smoke", "quick", "paper")


def base_config(env_name: str, preset: str) -> ConfigDict:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}' for {env_name} (known: {', '.join(PRESETS)})")
    c = ConfigDict()
    c.env_name = env_name  # task key in dbc_jax.envs.TASKS
    c.preset = preset  # preset name, used in the default workdir
    c.algo = "dbc"  # "dbc", "bc" (DBC with policy.coeff_dm = 0), "dp" (Diffusion Policy) or "ibc" (Implicit BC)
    c.seed = 1  # root of every random draw (init, batches, noise, eval episodes)
    c.num_seeds = 3  # policies trained together in one vmapped program
    c.workdir = ""  # "" -> runs/<env>_<algo>_<preset>_seed<seed>; an existing one is resumed
    c.algo_overrides = ConfigDict()  # {algo: {section: {field: value}}} applied by configs.resolve for that algo

    c.env = ConfigDict()  # the env's gymnasium kwargs

    c.data = ConfigDict()
    c.data.path = ""  # "" -> data/<env>_expert_<num_episodes>ep.npz, made by the task's expert if needed; or .npz/.pt
    c.data.seed = 0  # seed of the expert's demo episodes

    c.dm = ConfigDict()
    c.dm.num_steps = 1000  # diffusion steps T
    c.dm.batch_size = 128
    c.dm.grad_clip = 0.5  # global grad-norm clip
    c.dm.shared = True  # one diffusion model for all seeds (as the paper); False: one per seed

    c.policy = ConfigDict()
    c.policy.adam_eps = 1e-12
    c.policy.batch_size = 128  # the last partial batch of each epoch is dropped
    c.policy.grad_clip = 0.5
    c.policy.coeff_bc = 1.0  # weight of the BC (MSE) term
    c.policy.agent_expert_normalization = True  # hinge on L_agent - L_expert (False: on L_agent alone)

    c.eval = ConfigDict()
    c.eval.num_episodes = 100  # episodes per seed, each counted once
    c.eval.backend = "auto"  # "c" (gymnasium envs), "mjx" (one jitted scan); auto: mjx on GPU/TPU (tasks with a twin)

    c.checkpoint = ConfigDict()
    c.checkpoint.max_to_keep = 2  # orbax keeps this many latest checkpoints
    return c


def shrink_to_smoke(c: ConfigDict, num_episodes: int, epochs: int, eval_episodes: int) -> None:
    """The ``smoke`` preset: the whole pipeline at toy size (32-wide nets, a few epochs and episodes, lr 1e-3),
    logging and evaluating twice per phase."""
    c.data.num_episodes = num_episodes
    c.dm.hidden = 32
    c.dm.epochs = c.policy.epochs = epochs
    c.dm.lr = c.policy.lr = 1e-3
    c.dm.log_every_epochs = c.policy.log_every_epochs = c.eval.every_epochs = epochs // 2
    c.policy.hidden_sizes = (32, 32)
    c.eval.num_episodes = eval_episodes
