"""The scripted FetchPick expert (spec section 7.2: the paper's ``fetch_pickplace_dems.py``, from the HER baselines
script) and demo generation.

Four phases, each a proportional controller on the observation, with gain ``GAIN``:
1. approach: move to ``APPROACH_HEIGHT`` above the object, fingers opening (+0.05), until within ``APPROACH_TOL``;
2. grasp: descend onto the object, fingers closing (-0.005), until the grip site is within ``GRASP_TOL`` of it;
3. carry: move the object towards the goal, fingers closed, until within ``CARRY_TOL``;
4. hold: stay still with the fingers closed until the 50 steps are over.
The phase only moves forward, checked on each new observation before acting. Recorded actions are the controller's
unclipped outputs, as in the paper's demos (the env clips to [-1, 1]).

Demos are 50-step episodes by default, as the authors' script writes them (spec 7.2). ``end_at_success`` ends each
at its first success instead, as an evaluation episode ends; with ``num_transitions`` the demos are counted in
steps. The authors' file is ``pick_10000_clip.pt``, 10,000 transitions in about 303 episodes
(ablations_and_tasks.md section 4), i.e. about 33 steps each, which 50-step episodes cannot give and episodes
ending at success (this expert: 30 to 35 steps) do; docs/results.md ("FetchPick: where the gap to the paper
comes from") measures both.
"""

from __future__ import annotations

import gymnasium as gym
import jax
import numpy as np

from dbc_jax.data.dataset import Dataset, EpisodeRecorder
from dbc_jax.envs import fetch

GAIN = 6.0
APPROACH_HEIGHT = 0.03
APPROACH_TOL, GRASP_TOL, CARRY_TOL = 0.01, 0.005, 0.01
OPEN, CLOSE = 0.05, -0.005  # finger displacement per step (the env adds it to the current finger position)
APPROACH, GRASP, CARRY, HOLD = range(4)


class PickPlaceExpert:
    """Stateful controller for one episode; call :meth:`reset` at the start of each."""

    def reset(self) -> None:
        self.phase = APPROACH

    def act(self, obs: np.ndarray) -> np.ndarray:
        rel_pos, object_pos, goal = obs[fetch.OBJECT_REL_POS], obs[fetch.OBJECT_POS], obs[fetch.GOAL]
        above = rel_pos + [0.0, 0.0, APPROACH_HEIGHT]
        if self.phase == APPROACH and np.linalg.norm(above) < APPROACH_TOL:
            self.phase = GRASP
        if self.phase == GRASP and np.linalg.norm(rel_pos) < GRASP_TOL:
            self.phase = CARRY
        if self.phase == CARRY and np.linalg.norm(goal - object_pos) < CARRY_TOL:
            self.phase = HOLD
        move = {APPROACH: above, GRASP: rel_pos, CARRY: goal - object_pos, HOLD: np.zeros(3)}[self.phase]
        return np.append(GAIN * move, OPEN if self.phase == APPROACH else CLOSE)


def _reset_seeds(seed: int, n: int) -> np.ndarray:
    return np.asarray(jax.random.randint(jax.random.PRNGKey(seed), (n,), 0, 2**31 - 1))


def generate_demos(num_episodes: int = 200, seed: int = 0, noise_ratio: float = fetch.DEFAULT_NOISE_RATIO,
                   goal_noise_ratio: float = fetch.DEFAULT_NOISE_RATIO, end_at_success: bool = False,
                   num_transitions: int = 0, progress: bool = True) -> Dataset:
    """Roll the expert out into ``num_episodes`` demos of exactly 50 steps each (like the paper's script: the
    expert keeps holding after the success that would end an evaluation episode), or, with ``end_at_success``,
    each ending at the step of its first success. ``num_transitions`` > 0 records episodes until that many steps
    (the last one cut there) instead of counting episodes. Episodes in which the object never comes within the
    success distance of the goal are redrawn and counted in the metadata."""
    env = fetch.FetchPickEnv(noise_ratio=noise_ratio, goal_noise_ratio=goal_noise_ratio)
    expert = PickPlaceExpert()
    if num_transitions:  # an upper bound: every episode has a step
        num_episodes = num_transitions
    max_attempts = 2 * num_episodes + 10
    reset_seeds = _reset_seeds(seed, max_attempts)
    recorder, redrawn = EpisodeRecorder(num_episodes, num_transitions), 0
    with recorder.progress("fetchpick demos", progress):
        for attempt in range(max_attempts):
            if recorder.full:
                break
            obs, _ = env.reset(seed=int(reset_seeds[attempt]))
            expert.reset()
            ep_obs, ep_act, ep_next, ep_rew, succeeded = [], [], [], [], False
            for _ in range(fetch.MAX_EPISODE_STEPS):
                action = expert.act(obs)
                ep_obs.append(obs)
                ep_act.append(action)
                obs, reward, success, _, _ = env.step(action)  # the env clips
                ep_next.append(obs)
                ep_rew.append(reward)
                succeeded |= success
                if success and end_at_success:
                    break
            if not succeeded:
                redrawn += 1
                continue
            recorder.add_episode(ep_obs, ep_act, ep_next, ep_rew)
    env.close()
    if not recorder.full:
        raise RuntimeError(f"the FetchPick expert succeeded in only {recorder.num_episodes} of {max_attempts} "
                           "episodes")
    cut = recorder.cut_at_count()
    return recorder.dataset({"env": "fetchpick", "source": "dbc_jax scripted pick-and-place expert", "seed": seed,
                             "noise_ratio": noise_ratio, "goal_noise_ratio": goal_noise_ratio,
                             "end_at_success": end_at_success, "num_transitions": num_transitions,
                             "redrawn_episodes": redrawn, "last_episode_cut_by": cut})


def expert_success_rate(num_episodes: int = 200, seed: int = 0, noise_ratio: float = fetch.DEFAULT_NOISE_RATIO,
                        goal_noise_ratio: float | None = None) -> float:
    """Fraction of env episodes (env rules: success ends the episode, 50-step limit) the expert solves."""
    goal_noise_ratio = noise_ratio if goal_noise_ratio is None else goal_noise_ratio
    env = gym.make(fetch.ENV_ID, noise_ratio=noise_ratio, goal_noise_ratio=goal_noise_ratio)
    expert = PickPlaceExpert()
    successes = 0
    for episode_seed in _reset_seeds(seed, num_episodes):
        obs, _ = env.reset(seed=int(episode_seed))
        expert.reset()
        while True:
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            if terminated or truncated:
                successes += info["success"]
                break
    env.close()
    return successes / num_episodes
