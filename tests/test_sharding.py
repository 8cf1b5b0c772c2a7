"""A grid's member axis laid over devices: 4 forced host CPU devices give the same training and evaluation as one."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np

import dbc_jax
from dbc_jax.demos import make_demos

# Run in a fresh process: the device count is fixed when jax starts.
from dbc_jax.workdir import restore_workdir

# Run in a fresh process: the device count is fixed when jax starts.
SHARDED = textwrap.dedent("""
    import json, sys
    import jax
    import dbc_jax
    from dbc_jax.sharding import member_mesh, shard_members

    config = dbc_jax.configs.ConfigDict(json.loads(sys.argv[1]))
    assert jax.device_count() == 4, jax.devices()
    results = dbc_jax.train(config, progress=False)
    # Where the members live: a state laid out by the driver's own helpers, one policy-epoch chunk run on it.
    fns = dbc_jax.make_train(config, 6, 2)
    data = dbc_jax.TrainData.from_normalized(jax.numpy.zeros((256, 6)), jax.numpy.zeros((256, 2)))
    mesh = member_mesh(fns.grid.num_members)
    state = shard_members(fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams()), mesh, fns.grid.num_members)
    state, _ = fns.policy_epochs(state, shard_members(data, mesh, fns.grid.num_members), 1)
    leaf = jax.tree.leaves(state.policy_params)[0]
    shards = sorted(s.data.shape[0] for s in leaf.addressable_shards)
    print(json.dumps({"devices": len(leaf.sharding.device_set), "shards": shards}))
""")


def test_sharded_grid_equals_one_device(tmp_path):
    config = dbc_jax.get_config("maze", "smoke")
    config.num_seeds, config.grid.coeff = 2, (3.0, 30.0)  # 4 members, one per device
    config.data.path = str(tmp_path / "demos.npz")
    make_demos(config, config.data.path, progress=False)
    config.workdir = str(tmp_path / "sharded")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SHARDED, config.to_json()], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    layout = json.loads(out.stdout.strip().splitlines()[-1])
    assert layout == {"devices": 4, "shards": [1, 1, 1, 1]}  # one member per device

    config.workdir = str(tmp_path / "one_device")
    assert jax.device_count() == 1
    single = dbc_jax.train(config, progress=False)
    sharded = json.load(open(tmp_path / "sharded" / "results.json"))
    np.testing.assert_array_equal(sharded["per_member"], single.per_member)
    np.testing.assert_array_equal(sharded["evaluation"]["length"], single.evaluation.episode_length)
    a, b = restore_workdir(str(tmp_path / "sharded")).state, restore_workdir(single.workdir).state
    for x, y in zip(jax.tree.leaves(a.policy_params), jax.tree.leaves(b.policy_params)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
