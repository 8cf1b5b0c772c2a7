"""The task registry (dbc_jax/tasks.py) agrees with what it points at: envs, twins, configs, experts."""

import os

import gymnasium as gym
import pytest

import dbc_jax
from dbc_jax.tasks import TASKS, get_task, load, names


@pytest.mark.parametrize("name", list(TASKS))
def test_registry_entry_matches_its_env_config_and_expert(name):
    task = TASKS[name]
    env = gym.make(task.env_id)
    assert env.observation_space.shape == (task.obs_dim,)
    assert env.action_space.shape == (task.act_dim,)
    assert env.spec.max_episode_steps == task.horizon
    env.close()
    assert task.metric in ("success", "return")
    assert dbc_jax.get_config(name, "smoke").env_name == name  # a config file of the same name
    assert callable(load(task.demos))
    assert task.expert in ("scripted", "sac")
    if task.expert == "sac":
        from dbc_jax.experts import sac

        assert os.path.exists(sac.weights_path(name)), "a SAC task ships its expert's weights"
        assert task.expert_bar > 0


@pytest.mark.parametrize("name", [name for name, task in TASKS.items() if task.has_twin])
def test_twin_named_by_the_registry_is_the_twin_of_that_task(name):
    twin_class = load(TASKS[name].twin)
    assert twin_class.task == name


def test_unknown_task_and_filters():
    with pytest.raises(ValueError, match="config.env_name: unknown task 'ant' \\(known: maze, fetchpick"):
        get_task("ant")
    assert set(names(expert="sac")) == {n for n, t in TASKS.items() if t.expert == "sac"}
    assert set(names()) == set(TASKS)
