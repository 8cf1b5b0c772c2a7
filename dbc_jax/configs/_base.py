"""The config fields every task shares, with their defaults (the official code's, spec sections 1.5 and 6); each
task file (maze.py, fetchpick.py, _locomotion.py) adds its env, data, network sizes, schedules and presets."""

from ml_collections import ConfigDict

PRESETS = ("smoke", "quick", "paper")


def base_config(env_name: str, preset: str) -> ConfigDict:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset '{preset}' for {env_name} (known: {', '.join(PRESETS)})")
    c = ConfigDict()
    c.env_name = env_name  # task key in dbc_jax.tasks.TASKS
    c.preset = preset  # preset name, used in the default workdir
    c.algo = "dbc"  # "dbc", "bc" (DBC without the joint model), "dp" (Diffusion Policy) or "ibc" (Implicit BC)
    c.seed = 1  # root of every random draw (init, batches, noise, eval episodes)
    c.num_seeds = 3  # policies trained together in one vmapped program
    c.workdir = ""  # "" -> runs/<env>_<algo>[-<model>]_<preset>_seed<seed>; an existing one is resumed
    c.resolved = False  # True once configs.resolve checked it and filled its derived fields (the trainer's input)
    c.algo_overrides = ConfigDict()  # {algo: {section: {field: value}}} applied by configs.resolve for that algo

    c.env = ConfigDict()  # the env's gymnasium kwargs

    c.data = ConfigDict()
    c.data.path = ""  # "" -> data/<env>_expert_<num_episodes>ep.npz, made by the task's expert if needed; or .npz/.pt
    c.data.seed = 0  # seed of the expert's demo episodes
    c.data.normalize = True  # z-score obs and actions with the demos' statistics; False: raw (official AntReach)

    c.model = "diffusion"  # DBC's joint model of (s, a): "diffusion", "ebm", "vae" or "gan" (dbc_jax/joint_models/)

    # One section per joint model. `coeff` (λ) and `term` shape the policy loss; the other fields train the model.
    # The EBM, VAE and GAN start from the authors' Maze ablation settings (ablations_and_tasks.md, section 2).
    c.diffusion = ConfigDict()  # the task files set its coeff (λ), hidden, epochs, lr and log_every_epochs
    c.diffusion.term = "hinge"  # relu(L(s,π(s)) − L(s,a)); "agent": relu(L(s,π(s))); "abs": mean |L_a − L_e|
    c.diffusion.num_steps = 1000  # diffusion steps T
    c.diffusion.batch_size = 128  # pretraining batch (even: antithetic timesteps)
    c.diffusion.grad_clip = 0.5  # global grad-norm clip (0: none)
    c.diffusion.shared = True  # one model for all seeds (as the paper); False: one per seed

    c.ebm = ConfigDict()
    c.ebm.coeff = 0.1  # λ (the authors' EBM: 0.1)
    c.ebm.term = "hinge"  # as diffusion.term; the authors' EBM used "abs"
    c.ebm.hidden_sizes = (128, 128, 128, 128)  # energy MLP (ReLU) on [s, a]
    c.ebm.num_negatives = 128  # uniform counter-examples per pair in InfoNCE
    c.ebm.temperature = 1.0  # InfoNCE softmax temperature
    c.ebm.bounds_margin = 0.05  # counter-examples within the data's action range widened by this fraction
    c.ebm.epochs = 2000  # pretraining passes over the data
    c.ebm.lr = 1e-3  # Adam learning rate, decayed in steps
    c.ebm.lr_decay = 0.99  # the lr is multiplied by this ...
    c.ebm.lr_decay_every = 100  # ... every this many updates
    c.ebm.batch_size = 128  # pretraining batch
    c.ebm.grad_clip = 0.0  # global grad-norm clip (0: none)
    c.ebm.log_every_epochs = 100  # epochs per compiled chunk: log, progress and checkpoint interval
    c.ebm.shared = True  # one model for all seeds

    c.vae = ConfigDict()
    c.vae.coeff = 1.0  # λ (the authors' VAE: 1)
    c.vae.term = "hinge"  # as diffusion.term (the authors' VAE: "hinge")
    c.vae.hidden_sizes = (512, 512, 512, 512)  # encoder MLP (LeakyReLU); the decoder mirrors it
    c.vae.latent_dim = 128  # Gaussian latent size
    c.vae.beta = 1e-7  # weight of the KL term
    c.vae.epochs = 700  # pretraining passes over the data (~100k updates on Maze, as the authors)
    c.vae.lr = 1e-4  # Adam learning rate, decayed in steps
    c.vae.lr_decay = 0.5  # the lr is multiplied by this ...
    c.vae.lr_decay_every = 5000  # ... every this many updates
    c.vae.batch_size = 128  # pretraining batch
    c.vae.grad_clip = 0.0  # global grad-norm clip (0: none)
    c.vae.log_every_epochs = 50  # epochs per compiled chunk: log, progress and checkpoint interval
    c.vae.shared = True  # one model for all seeds

    c.gan = ConfigDict()  # trained online beside each seed's policy: no pretraining, one discriminator per seed
    c.gan.coeff = 0.2  # λ (the authors' GAN: 0.2)
    c.gan.term = "hinge"  # as diffusion.term; "agent" is the authors' non-saturating generator loss
    c.gan.hidden_sizes = (256, 256)  # discriminator MLP (ReLU) on [s, a]
    c.gan.lr = 5e-5  # discriminator Adam learning rate (the authors: the policy's)
    c.gan.grad_clip = 0.0  # global grad-norm clip (0: none)

    # A grid of the policy phase's hyperparameters trained as one program (dbc_jax/grid.py): each non-empty tuple
    # is an axis whose values replace the config's own, and every combination trains for each of num_seeds seeds.
    c.grid = ConfigDict()
    c.grid.coeff = ()  # λ values (replace config.<model>.coeff); algo dbc only
    c.grid.coeff_bc = ()  # BC-term weights (replace policy.coeff_bc); algo dbc only
    c.grid.lr = ()  # the policy's peak learning rates (replace policy.lr)

    c.policy = ConfigDict()
    c.policy.adam_eps = 1e-12  # Adam's epsilon (the official code's)
    c.policy.batch_size = 128  # the last partial batch of each epoch is dropped
    c.policy.grad_clip = 0.5  # global grad-norm clip (0: none)
    c.policy.coeff_bc = 1.0  # weight of the BC (MSE) term (0: the joint model's term alone)

    c.eval = ConfigDict()
    c.eval.num_episodes = 100  # episodes per seed, each counted once
    c.eval.backend = "auto"  # "c" (gymnasium envs), "mjx" (one jitted scan); auto: mjx on GPU/TPU (tasks with a twin)

    c.checkpoint = ConfigDict()
    c.checkpoint.max_to_keep = 2  # orbax keeps this many latest checkpoints (at least 2: one to fall back on)

    c.log = ConfigDict()  # where metrics go besides <workdir>/metrics.jsonl (dbc_jax/tensorboard.py)
    c.log.tensorboard = True  # event files in <workdir>/tensorboard/ (tensorboard --logdir runs)
    c.log.wandb = False  # also log to Weights & Biases (needs the wandb package; never a dependency)
    if preset == "quick":
        shrink_joint_models_to_quick(c)
    return c


def learned_expert(stochastic: bool = False, min_return: float | None = None) -> ConfigDict:
    """``config.data.expert`` for a task whose demos come from its shipped SAC expert (``experts/learned.py``)."""
    c = ConfigDict()  # demo-generator kwargs
    c.weights = ""  # "" -> dbc_jax/experts/weights/<env>_sac.msgpack
    if min_return is not None:
        c.min_return = min_return  # demo episodes below this return are redrawn
    c.stochastic = stochastic  # record sampled actions (True) or the actor's mean (False)
    c.dart_noise = 0.0  # sigma of N(0, sigma^2) added to executed actions; recorded labels stay clean
    return c


def shrink_to_smoke(c: ConfigDict, num_episodes: int, epochs: int, eval_episodes: int) -> None:
    """The ``smoke`` preset: the whole pipeline at toy size (32-wide nets, a few epochs and episodes, lr 1e-3),
    logging and evaluating twice per phase."""
    c.data.num_episodes = num_episodes
    c.diffusion.hidden = 32
    c.ebm.hidden_sizes = c.vae.hidden_sizes = c.gan.hidden_sizes = (32, 32)
    c.ebm.num_negatives = 8
    c.vae.latent_dim = 8
    for section in (c.diffusion, c.ebm, c.vae, c.policy):
        section.epochs = epochs
        section.lr = 1e-3
        section.log_every_epochs = epochs // 2
    c.gan.lr = 1e-3
    c.eval.every_epochs = epochs // 2
    c.policy.hidden_sizes = (32, 32)
    c.eval.num_episodes = eval_episodes


def shrink_to_quick(c: ConfigDict, diffusion: dict, policy: dict, eval_every_epochs: int) -> None:
    """The ``quick`` preset's CPU-sized numbers of a task: the diffusion model's and the policy's fields it sets
    (width, epochs, lr, chunk), and the periodic evaluation interval."""
    for section, fields in (("diffusion", diffusion), ("policy", policy)):
        for name, value in fields.items():
            c[section][name] = value
    c.eval.every_epochs = eval_every_epochs


def shrink_joint_models_to_quick(c: ConfigDict) -> None:
    """The ``quick`` preset's EBM and VAE: CPU-sized (the authors' 4-layer nets for 2000 and ~700 epochs take hours
    on 2 cores: 27 and 106 updates/s on Maze, ``make bench ARGS="--models ebm vae"``), 100 epochs at lr 1e-3."""
    c.ebm.hidden_sizes = (128, 128)
    c.ebm.num_negatives = 64
    c.vae.hidden_sizes = (256, 256)
    c.vae.latent_dim = 32
    for section in (c.ebm, c.vae):
        section.epochs = 100
        section.lr = 1e-3
        section.log_every_epochs = 25
