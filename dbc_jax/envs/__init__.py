"""The tasks' gymnasium envs (one module each) and their MJX twins; which tasks exist is ``dbc_jax/tasks.py``."""
