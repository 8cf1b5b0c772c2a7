"""The faults a run stops on, and how a command line reports any error.

Bad input (a config value, a data file, a flag) raises ``ValueError`` or ``FileNotFoundError`` before any compute;
a fault during a run raises a :class:`Fault`. On the command line (:func:`run_cli`) either is one line on stderr,
``error: <what>``, with exit status 2 for bad input and 1 for a fault; ``--debug`` (or ``DBC_JAX_DEBUG=1``) shows
the traceback instead.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Callable, Sequence

BAD_INPUT, FAULT, INTERRUPTED = 2, 1, 130  # exit statuses


class Fault(RuntimeError):
    """A run cannot go on: what went wrong, and where."""


class NonFiniteError(Fault):
    """A loss or a parameter became NaN or infinite; the last good checkpoint stays the latest."""


class CheckpointError(Fault):
    """No intact checkpoint to restore (each damaged one is named with its reason)."""


class WorkdirBusyError(Fault):
    """Another live process writes to this workdir."""


class WorkdirError(Fault):
    """A workdir that cannot be written safely (a file in it is a symbolic link, or cannot be read back)."""


def _is_bad_input(error: BaseException) -> bool:
    from absl import app, flags

    return isinstance(error, (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                              app.UsageError, flags.Error))


# The machine, not the code or the input: each named with its path and what to do.
_ENVIRONMENT_ERRORS = {errno.ENOSPC: "free some space on that device, or write elsewhere (--config.workdir)",
                       errno.EDQUOT: "free some of your disk quota, or write elsewhere (--config.workdir)",
                       errno.EACCES: "make it writable for you, or write elsewhere (--config.workdir)",
                       errno.EPERM: "make it writable for you, or write elsewhere (--config.workdir)",
                       errno.EROFS: "the file system is read-only: write elsewhere (--config.workdir)"}

_STOPS = []  # the signals the command line's handler received


def _interrupt(signum, frame) -> None:
    _STOPS.append(signum)
    raise KeyboardInterrupt


def stop_requested() -> bool:
    """Whether the command line was asked to stop (Ctrl-C, SIGTERM). The KeyboardInterrupt its handler raises is
    lost where Python ignores exceptions (a garbage-collection callback): the run checks this between chunks."""
    return bool(_STOPS)


def run_cli(main: Callable[[list], object], argv: Sequence[str] | None = None) -> None:
    """Call ``main(argv)`` (``argv``: the program name and its arguments, without ``--debug``) and turn an exception
    into one line and an exit status."""
    argv = list(sys.argv if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("DBC_JAX_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    sys.argv = argv  # for argparse scripts that read sys.argv themselves
    # Ctrl-C, and `kill` or a scheduler's stop: the same clean stop (the caller's handlers come back afterwards)
    previous = {stop: signal.signal(stop, _interrupt) for stop in (signal.SIGINT, signal.SIGTERM)}
    try:
        main(argv)
    except KeyboardInterrupt:
        print("\ninterrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        sys.exit(INTERRUPTED)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 -- every error becomes one line unless --debug
        if debug:
            raise
        message = str(error).strip() or type(error).__name__
        if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ERRORS:
            where = f" ({error.filename})" if error.filename else ""
            print(f"error: {error.strerror or message}{where}: {_ENVIRONMENT_ERRORS[error.errno]}", file=sys.stderr)
            sys.exit(FAULT)
        if _is_bad_input(error) or isinstance(error, Fault):
            print(f"error: {message}", file=sys.stderr)
            sys.exit(BAD_INPUT if _is_bad_input(error) else FAULT)
        print(f"error: {type(error).__name__}: {message} (an unexpected error: rerun with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(FAULT)
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
