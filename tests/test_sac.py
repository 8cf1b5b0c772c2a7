"""The SAC expert trainer's pieces: the squashed-Gaussian density, the Polyak target, determinism."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dbc_jax.experts import sac


def make(batch_size=8):
    config = sac.get_config("halfcheetah")
    config.hidden, config.batch_size, config.critic_lr = (16, 16), batch_size, 3e-3
    agent = sac.SAC.create(config, act_dim=2)
    return agent, agent.init(jax.random.PRNGKey(0), 3, 2), config


def batches(k, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    return {"obs": rng.standard_normal((k, batch_size, 3)), "action": rng.uniform(-1, 1, (k, batch_size, 2)),
            "reward": rng.standard_normal((k, batch_size)), "next_obs": rng.standard_normal((k, batch_size, 3)),
            "terminated": (rng.uniform(size=(k, batch_size)) < 0.1).astype(float)}


def test_log_prob_is_the_change_of_variables_density_of_tanh_of_a_gaussian():
    agent, state, _ = make()
    obs = jnp.asarray(np.random.default_rng(1).standard_normal((64, 3)), jnp.float32)
    action, log_prob = agent.sample(state.actor, obs, jax.random.PRNGKey(2))
    mean, log_std = agent.actor_net.apply({"params": state.actor}, obs)
    u = np.arctanh(np.clip(np.asarray(action, np.float64), -1 + 1e-7, 1 - 1e-7))
    std = np.exp(np.asarray(log_std, np.float64))
    gauss = -0.5 * ((u - np.asarray(mean)) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    expected = np.sum(gauss - np.log(1 - np.tanh(u) ** 2), -1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-3, atol=1e-3)
    assert np.all(np.abs(action) < 1)


def test_one_update_moves_the_target_critic_by_tau():
    agent, state, config = make()
    batch = jax.tree.map(lambda x: jnp.asarray(x[0], jnp.float32), batches(1, 8))
    new, info = agent.update(state, batch)
    for old_t, new_c, new_t in zip(jax.tree.leaves(state.target_critic), jax.tree.leaves(new.critic),
                                   jax.tree.leaves(new.target_critic)):
        np.testing.assert_allclose(new_t, (1 - config.tau) * old_t + config.tau * new_c, rtol=1e-5, atol=1e-7)
    assert {"critic/loss", "actor/loss", "actor/entropy", "alpha"} <= set(info)


def test_same_key_same_numbers_and_the_critic_fits_terminal_rewards():
    agent, state, _ = make(batch_size=32)
    data = batches(1, 32)
    data["terminated"][:] = 1.0  # terminal transitions: the critic regresses onto the rewards
    data = jax.tree.map(lambda x: jnp.asarray(np.repeat(x, 300, 0), jnp.float32), data)  # one batch, 300 updates
    run = jax.jit(agent.update_chunk)
    a, info_a = run(state, data)
    b, info_b = run(state, data)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    _, first_info = agent.update(state, jax.tree.map(lambda x: x[0], data))
    _, last_info = agent.update(a, jax.tree.map(lambda x: x[0], data))
    assert last_info["critic/loss"] < 0.5 * first_info["critic/loss"]



def tiny_walker_run(tmp_path, name, **overrides):
    c = sac.get_config("walker")
    c.hidden, c.total_steps, c.random_steps, c.updates_per_chunk = (32, 32), 700, 200, 50
    c.eval_every, c.eval_episodes, c.checkpoint_every = 350, 1, 10**9
    c.out, c.workdir = str(tmp_path / name / "actor.msgpack"), str(tmp_path / name)
    c.update(overrides)
    return c


def test_a_paused_resumed_and_extended_run_gives_the_same_numbers_as_an_uninterrupted_one(tmp_path):
    """Walker2d, so falls reset the env before and after the pause, which lands mid-episode (step 233); the run
    then finishes at 350 and is extended to 700."""
    straight = sac.train(tiny_walker_run(tmp_path, "straight"), progress=False)
    paused = sac.train(tiny_walker_run(tmp_path, "split", total_steps=350, pause_at=233), progress=False)
    assert paused is None  # no evaluation before the pause: no actor saved yet
    first = sac.train(tiny_walker_run(tmp_path, "split", total_steps=350), progress=False)
    assert [h["step"] for h in first["history"]] == [350]
    extended = sac.train(tiny_walker_run(tmp_path, "split"), progress=False)
    without_wall = lambda card: [{k: v for k, v in h.items() if k != "wall_s"} for h in card["history"]]
    assert [h["step"] for h in extended["history"]] == [350, 700]
    assert without_wall(extended) == without_wall(straight)
    a, _ = sac.load_actor(str(tmp_path / "straight" / "actor.msgpack"))
    b, _ = sac.load_actor(str(tmp_path / "split" / "actor.msgpack"))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


def test_resuming_with_another_config_names_the_differing_fields(tmp_path):
    sac.train(tiny_walker_run(tmp_path, "run", total_steps=60, random_steps=60, eval_every=30, pause_at=30),
              progress=False)
    changed = tiny_walker_run(tmp_path, "run", total_steps=60, random_steps=60, eval_every=30, batch_size=64)
    with pytest.raises(ValueError, match=r"its SAC checkpoint was made with another config \(batch_size: "
                                         r"checkpoint 128 vs now 64\); pass --workdir"):
        sac.train(changed, progress=False)


def test_the_training_env_can_be_set_from_the_command_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sac.main(["--env=walker", "--train_env=[1]"])
    assert exit_info.value.code == 2 and "--train_env: expected a JSON object, got '[1]'" in capsys.readouterr().err
    assert sac._json_object('{"reward": "progress", "max_episode_steps": 150}') == {
        "reward": "progress", "max_episode_steps": 150}


def test_the_card_command_reruns_as_written(tmp_path):
    """The card's ``make expert ... ARGS=...`` line, pasted into a shell, hands make's recipe the same arguments,
    a JSON ``--train_env`` and a path with a space included."""
    import shlex
    import subprocess

    out = tmp_path / "a b" / "actor.msgpack"
    argv = ['--train_env={"forward_reward_weight": 1.0}', "--total_steps=2", "--random_steps=2", "--eval_every=2",
            "--eval_episodes=1", f"--workdir={tmp_path / 'a b'}", f"--out={out}"]
    sac.main(["--env=walker", *argv])
    _, card = sac.load_actor(str(out))
    assert card["train_env"] == {"forward_reward_weight": 1.0}
    args_value = shlex.split(card["command"])[-1].split("=", 1)[1]  # what the shell hands make as ARGS
    recipe = subprocess.run(["bash", "-c", f"printf '%s\\n' {args_value}"], capture_output=True, text=True).stdout
    assert recipe.splitlines() == argv
