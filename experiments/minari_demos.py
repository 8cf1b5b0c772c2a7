"""Local Minari datasets of gymnasium environments none of the six tasks uses, recorded from controllers written here,
in the layout of the remote ``mujoco/*`` datasets (Minari's DataCollector, reference scores included). They are what
``make train DATA=minari:<id>`` is tested and measured on where no remote dataset can be downloaded.

    python experiments/minari_demos.py --env InvertedPendulum-v5 --episodes 50 [--id dbc_jax/invertedpendulum/pd-v0]

Controllers (``CONTROLLERS``): InvertedPendulum-v5, a PD law on the cart and pole (return 1000 of 1000 from every
start it was tried on; a uniform-random policy returns about 5); InvertedDoublePendulum-v5, LQR on the model
linearized upright (9360 of 9360; random: about 48).
"""

from __future__ import annotations

import argparse

import numpy as np


def inverted_pendulum(obs: np.ndarray) -> np.ndarray:
    """Force from cart position, pole angle and their velocities: ``obs`` = [x, θ, ẋ, θ̇]."""
    return np.clip([0.5 * obs[0] + 5.0 * obs[1] + 0.5 * obs[2] + 0.5 * obs[3]], -3.0, 3.0).astype(np.float32)


def lqr_gain(env_id: str, state_cost, action_cost: float = 1.0) -> np.ndarray:
    """The discrete LQR gain of ``env_id``'s MuJoCo model linearized upright at rest (state [qpos, qvel]), for an
    action held over the env's ``frame_skip`` physics steps. MuJoCo's finite-difference linearization does not
    support RK4, so it linearizes with Euler at the same timestep."""
    import gymnasium as gym
    import mujoco
    import scipy.linalg

    env = gym.make(env_id)
    model, skip = env.unwrapped.model, env.unwrapped.frame_skip
    integrator, model.opt.integrator = model.opt.integrator, mujoco.mjtIntegrator.mjINT_EULER
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    a, b = np.zeros((2 * model.nv, 2 * model.nv)), np.zeros((2 * model.nv, model.nu))
    mujoco.mjd_transitionFD(model, data, 1e-6, True, a, b, None, None)
    model.opt.integrator = integrator
    env.close()
    a_held = np.linalg.matrix_power(a, skip)
    b_held = sum(np.linalg.matrix_power(a, i) @ b for i in range(skip))
    q, r = np.diag(state_cost), np.array([[action_cost]])
    p = scipy.linalg.solve_discrete_are(a_held, b_held, q, r)
    return np.linalg.solve(r + b_held.T @ p @ b_held, b_held.T @ p @ a_held)


_DOUBLE_GAIN = []


def inverted_double_pendulum(obs: np.ndarray) -> np.ndarray:
    """LQR on [x, θ1, θ2, ẋ, θ̇1, θ̇2], read from the 9-D observation [x, sin θ, cos θ, velocities, constraint]
    (return 9360 of the most 9360 on each of 10 starts tried; a uniform-random policy returns about 48)."""
    if not _DOUBLE_GAIN:
        _DOUBLE_GAIN.append(lqr_gain("InvertedDoublePendulum-v5", [1, 10, 10, 0.1, 1, 1]))
    angles = np.arctan2(obs[1:3], obs[3:5])
    state = np.concatenate([obs[:1], angles, obs[5:8]])
    return np.clip(-_DOUBLE_GAIN[0] @ state, -1.0, 1.0).astype(np.float32)


CONTROLLERS = {"InvertedPendulum-v5": inverted_pendulum, "InvertedDoublePendulum-v5": inverted_double_pendulum}


def record(env_id: str, dataset_id: str, episodes: int, seed: int = 0, action_noise: float = 0.0,
           overwrite: bool = False) -> str:
    """Run ``CONTROLLERS[env_id]`` for ``episodes`` episodes (reset seeds ``seed``, ``seed + 1``, ...; with
    N(0, ``action_noise``²) added to each executed action, clipped to the bounds) and write them as the local Minari
    dataset ``dataset_id``, with the random policy's and the controller's mean returns as its reference scores."""
    import gymnasium as gym
    import minari

    if env_id not in CONTROLLERS:
        raise ValueError(f"--env {env_id}: no controller for it (have: {', '.join(CONTROLLERS)})")
    if dataset_id in minari.list_local_datasets():
        if not overwrite:
            raise ValueError(f"Minari dataset '{dataset_id}' exists already (--overwrite replaces it)")
        minari.delete_dataset(dataset_id)
    controller, rng = CONTROLLERS[env_id], np.random.default_rng(seed)
    env = minari.DataCollector(gym.make(env_id), record_infos=False)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action = controller(obs)
            if action_noise:
                action = np.clip(action + rng.normal(0.0, action_noise, action.shape), env.action_space.low,
                                 env.action_space.high).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    random_env = gym.make(env_id)
    random_returns = []
    for episode in range(100):
        random_env.reset(seed=10_000 + episode)
        random_env.action_space.seed(10_000 + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = random_env.step(random_env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        random_returns.append(total)
    random_env.close()
    dataset = env.create_dataset(dataset_id=dataset_id, algorithm_name=f"dbc_jax controller ({controller.__name__})",
                                 author="dbc_jax", author_email="dbc_jax@localhost",
                                 code_permalink="experiments/minari_demos.py",
                                 ref_min_score=float(np.mean(random_returns)), ref_max_score=float(np.mean(returns)),
                                 description=f"{episodes} episodes of a {controller.__name__} controller on {env_id}")
    env.close()
    return str(dataset.storage.data_path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="InvertedPendulum-v5", choices=list(CONTROLLERS))
    parser.add_argument("--id", default="", help="Minari dataset id (default: dbc_jax/<env lowercase>/controller-v0)")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--action-noise", type=float, default=0.0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    dataset_id = args.id or f"dbc_jax/{args.env.split('-')[0].lower()}/controller-v0"
    path = record(args.env, dataset_id, args.episodes, args.seed, args.action_noise, args.overwrite)
    print(f"wrote {dataset_id} to {path}\ntrain on it: make train DATA=minari:{dataset_id}")


if __name__ == "__main__":
    main()
