"""Writing files a user may share a machine with: never through a symbolic link, with the user's normal
permissions."""

from __future__ import annotations

import os

from dbc_jax.errors import WorkdirError


def open_no_follow(path: str, flags: int) -> int:
    """``os.open`` for writing a file of a workdir, never through a symbolic link (a link planted in a shared
    workdir must not redirect a write to a file of the user's); new files get the user's normal permissions."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o666)
    except OSError:
        if os.path.islink(path):
            raise WorkdirError(f"{path} is a symbolic link (to {os.readlink(path)}): dbc_jax does not write through "
                               "links; remove it, or use another workdir") from None
        raise


def umask_mode() -> int:
    """The permissions a new file gets from the user's umask (0o644 under the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
