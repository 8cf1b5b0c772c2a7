"""Orbax checkpoints and the workdir layout.

    <workdir>/config.json       the resolved config of the run
    <workdir>/checkpoints/<n>/  orbax: TrainState (joint model, policies, optimizer states, epochs, keys),
                                normalizer, meta
    <workdir>/metrics.jsonl     one record per epoch and per evaluation
    <workdir>/learning_curve.png
    <workdir>/episodes.png      the final evaluation's episodes (make eval redraws it)
    <workdir>/trajectories.png  Maze: evaluation paths over the walls (tasks with Task.draw_paths)
    <workdir>/tensorboard/      TensorBoard event files mirroring metrics.jsonl
    <workdir>/results.json      final evaluation, per seed and per episode, with timings
    <workdir>/.lock             held by the process writing to the workdir (workdir_lock)

A checkpoint's number is the count of epochs done, joint model plus policy, so it grows through both phases.

Every checkpoint's meta holds a SHA-256 digest of its arrays. :meth:`Checkpoints.restore_intact` restores the newest
checkpoint that reads back whole, matches its digest and holds only finite numbers; each damaged one is named with
its reason and, when training resumes, moved to ``<workdir>/checkpoints_damaged/`` so the run can write that step
again. Orbax writes a checkpoint into a temporary folder and renames it when complete, so a process killed mid-write
leaves no half checkpoint behind.

A workdir can be read while it trains (``make eval`` beside ``make train``). The writer retires a checkpoint past
``max_to_keep`` by renaming it into ``checkpoints/rotated/`` (one atomic step) and only then deletes it, so a reader
whose checkpoint vanished mid-read sees it gone, knows it was rotated rather than damaged, and lists again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import jax
import numpy as np
import orbax.checkpoint as ocp

from dbc_jax import distributed
from dbc_jax.errors import CheckpointError, WorkdirBusyError
from dbc_jax.files import open_no_follow, umask_mode


@contextlib.contextmanager
def workdir_lock(workdir: str):
    """Hold ``<workdir>/.lock`` (an exclusive ``flock``) while a process writes to the workdir; a second writer gets
    :class:`WorkdirBusyError`. The kernel drops the lock when its process ends, however it ends, so a crash leaves
    nothing stuck."""
    os.makedirs(workdir, exist_ok=True)
    fd = open_no_follow(os.path.join(workdir, ".lock"), os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise WorkdirBusyError(f"{os.path.abspath(workdir)}: another process (pid {holder}) is writing to this "
                                   "workdir; wait for it to finish, or use another workdir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def atomic_write_text(path: str, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file beside it, then a rename, which replaces a link at
    ``path`` rather than writing through it), with the user's normal permissions."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_")
    os.fchmod(fd, umask_mode())  # mkstemp makes it readable by its owner only
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_save_figure(fig, path: str, dpi: int = 100) -> None:
    """Write a matplotlib figure as PNG atomically (a reader never sees half a file), then close it."""
    import matplotlib.pyplot as plt

    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)


def _on_this_host(leaf):
    spec = ocp.utils.to_shape_dtype_struct(leaf)
    if getattr(spec, "sharding", None) is None:
        spec = jax.ShapeDtypeStruct(spec.shape, spec.dtype,
                                    sharding=jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))
    return spec


DIGEST_VERSION = 2  # 2: hashes per row block, the same however the arrays are laid out; 1 (before 2026-12-06): whole
_ROWS_PER_BLOCK = 4096  # a leaf with more rows than this (a replay buffer) is hashed in blocks of this many rows


def _row_block(rows: int) -> int:
    return 1 if rows <= _ROWS_PER_BLOCK else _ROWS_PER_BLOCK


def fingerprint(tree) -> tuple[str, str | None]:
    """(SHA-256 digest of the arrays, the path of the first leaf holding a NaN or an infinity, or None).

    The digest covers every leaf's path, dtype, shape and a SHA-256 of each row of its leading axis (of each block
    of 4096 rows in a longer leaf), so it does not depend on how the leaves are laid over devices or processes: each
    process hashes the rows it holds (:func:`dbc_jax.distributed.held_rows`) and the hashes are gathered, never the
    arrays. Every process gets the same answer."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    rows = [len(leaf) if np.ndim(leaf) else 1 for _, leaf in flat]
    blocks = [-(-n // _row_block(n)) for n in rows]
    starts = np.concatenate([[0], np.cumsum(blocks)]).astype(int)
    hashes = np.zeros((starts[-1], 32), np.uint8)
    nonfinite = np.zeros(len(flat), np.int64)
    for i, ((path, leaf), n) in enumerate(zip(flat, rows)):
        unit = _row_block(n)
        for first, stop, held in distributed.held_rows(leaf):
            if first % unit or (stop % unit and stop != n):
                raise ValueError(f"{jax.tree_util.keystr(path)}: rows {first}..{stop} of {n} split a block of "
                                 f"{unit} rows across processes")
            held = np.ascontiguousarray(held.reshape(stop - first, -1) if held.ndim else held.reshape(1, 1))
            for b in range(0, stop - first, unit):
                digest_of = hashlib.sha256(held[b:b + unit].tobytes()).digest()
                hashes[starts[i] + (first + b) // unit] = np.frombuffer(digest_of, np.uint8)
            if np.issubdtype(held.dtype, np.floating):
                nonfinite[i] += int(np.sum(~np.isfinite(held)))
    hashes = np.bitwise_or.reduce(distributed.gather_stacked(hashes), axis=0)  # each block is held by one process
    nonfinite = distributed.gather_stacked(nonfinite).sum(0)
    h = hashlib.sha256()
    for i, (path, leaf) in enumerate(flat):
        h.update(f"{jax.tree_util.keystr(path)}|{np.dtype(leaf.dtype).str}|{tuple(np.shape(leaf))}|".encode())
        h.update(hashes[starts[i]:starts[i + 1]].tobytes())
    bad = next((jax.tree_util.keystr(path) for (path, _), n in zip(flat, nonfinite) if n), None)
    return h.hexdigest(), bad


def digest(tree) -> str:
    """The arrays' SHA-256 digest (:func:`fingerprint`)."""
    return fingerprint(tree)[0]


def _whole_digest(tree) -> str:
    """The digest of checkpoints written before DIGEST_VERSION 2: SHA-256 over whole arrays as the host sees them."""
    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        array = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{jax.tree_util.keystr(path)}|{array.dtype.str}|{array.shape}|".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def _damage(tree, meta: dict) -> str | None:
    """Why a restored tree does not match its checkpoint's meta (digest, finite values), or None."""
    if meta.get("digest_version", 1) == 1 and "digest" in meta:
        if distributed.is_multiprocess():
            raise CheckpointError("a checkpoint written before multi-process runs (digest version 1) is resumed "
                                  "by one process only")
        found, bad = _whole_digest(tree), fingerprint(tree)[1]
    else:
        found, bad = fingerprint(tree)
    if "digest" in meta and found != meta["digest"]:
        return "its arrays do not match the digest saved with them"
    if bad is not None:
        return f"non-finite values in {bad}"
    return None


@contextlib.contextmanager
def interrupts_deferred():
    """Ctrl-C or SIGTERM during the block takes effect when it ends: a checkpoint write is never cut in the middle
    (which left orbax's writer threads printing tracebacks as the process exited). Main thread only, where Python
    runs signal handlers; elsewhere the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        raise KeyboardInterrupt


ROTATED = "rotated"  # checkpoints/rotated/<step>: retired by the writer, deleted after each save
_LISTING_TRIES = 20  # a listing that a rotation cut short is taken again, this many times at most


def _listed_again(make):
    """``make()``, taken again when a checkpoint it was reading vanished: orbax lists the step folders, then reads
    each one's metadata, and the writer may rotate one away in between."""
    for attempt in range(_LISTING_TRIES):
        try:
            return make()
        except (FileNotFoundError, NotADirectoryError):
            if attempt == _LISTING_TRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


class Checkpoints:
    """A thin wrapper over ``ocp.CheckpointManager``: a pytree of arrays plus JSON meta per step."""

    def __init__(self, workdir: str, max_to_keep: int = 2, writer: bool = False):
        """``writer``: a training run's (every process of a multi-process one calls save). Its process 0, which
        holds the workdir's lock, also removes the temporary folders of a checkpoint write that a killed process
        left unfinished (a reader must not: they may be a live write) and deletes rotated checkpoints."""
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.cleans = writer and distributed.is_writer()
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               cleanup_tmp_directories=self.cleans, todelete_subdir=ROTATED)
        self.manager = _listed_again(lambda: ocp.CheckpointManager(self.directory, options=options))
        if self.cleans:
            self._delete_rotated()

    def _delete_rotated(self) -> None:
        shutil.rmtree(os.path.join(self.directory, ROTATED), ignore_errors=True)

    def _rotated(self, step: int) -> bool:
        """Whether checkpoint ``step``, listed a moment ago, has since been retired by a training writer."""
        return not os.path.isdir(os.path.join(self.directory, str(step)))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def read_meta(self, step: int) -> dict:
        """The JSON meta of checkpoint ``step`` alone (no arrays read)."""
        return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta

    def save_tree(self, step: int, tree, meta: dict) -> None:
        """Save any pytree of arrays plus JSON ``meta`` (and the arrays' digest) as checkpoint ``step`` (blocks until
        written)."""
        meta = {**meta, "digest": digest(tree), "digest_version": DIGEST_VERSION}
        with interrupts_deferred():
            self.manager.save(step, args=ocp.args.Composite(tree=ocp.args.StandardSave(tree),
                                                            meta=ocp.args.JsonSave(meta)))
            self.manager.wait_until_finished()
            if self.cleans:
                self._delete_rotated()

    def restore_intact(self, template, check_meta=None, quarantine: bool = True):
        """(step, tree, meta) of the newest intact checkpoint (module docstring), restored into ``template`` (or into
        ``template(meta)`` if it is callable: a layout that depends on the checkpoint).
        ``check_meta(meta)`` may refuse a readable checkpoint (its error propagates: that is not damage). Each
        damaged checkpoint is reported on stderr and, with ``quarantine``, moved out of the way. Raises
        :class:`CheckpointError` naming every step and its reason when none is intact."""
        for attempt in range(_LISTING_TRIES):
            damaged, found = self._newest_intact(template, check_meta)
            # Rotated mid-read, or an empty listing (taken while a writer committed one step and retired others):
            # newer steps exist now.
            raced = found is None and (not damaged or any(reason is None for _, reason in damaged))
            if not raced:
                break
            time.sleep(0.01 * (attempt + 1))
            _listed_again(self.manager.reload)
        if raced:
            raise CheckpointError(f"{self.directory}: no checkpoint could be read in {_LISTING_TRIES} tries (none "
                                  "listed, or each retired while read: a run writing checkpoints very often?); "
                                  "try again")
        damaged = [(step, reason) for step, reason in damaged if reason is not None]
        if found is not None:
            self._report(damaged, quarantine, fallback=found[0])
            return found
        self._report(damaged, quarantine=False, fallback=None)  # left in place: the same error on every retry
        listing = "; ".join(f"step {s}: {r}" for s, r in damaged)
        raise CheckpointError(f"{self.directory}: no intact checkpoint ({listing})")

    def _newest_intact(self, template, check_meta):
        """One pass over the listed steps, newest first: ([(step, reason)] of those passed over, (step, tree, meta)
        or None). A reason of None: the step was rotated away while read, and the pass stops there. In a
        multi-process run every process takes the same decision for each step (damage on one is damage on all)."""
        damaged = []
        for step in sorted(self.all_steps(), reverse=True):
            tree, meta, reason = None, None, None
            try:
                meta = self.read_meta(step)
            except Exception as error:  # noqa: BLE001 -- any unreadable meta is damage
                reason = f"meta unreadable ({type(error).__name__}: {str(error)[:200]})"
            if reason is None:
                if check_meta is not None:
                    check_meta(meta)
                try:
                    tree, meta = self.restore_tree(step, template(meta) if callable(template) else template)
                except Exception as error:  # noqa: BLE001 -- missing, truncated or unreadable array files
                    reason = f"arrays unreadable ({type(error).__name__}: {str(error)[:200]})"
            if reason is None:
                reason = _damage(tree, meta)
            if not distributed.all_agree(reason is None) and reason is None:
                reason = "damaged as read by another process"
            if reason:
                if self._rotated(step):  # read while it was being retired: not damage
                    return damaged + [(step, None)], None
                damaged.append((step, reason))
                continue
            return damaged, (step, tree, meta)
        return damaged, None

    def _report(self, damaged: list, quarantine: bool, fallback: int | None) -> None:
        if not damaged:
            return
        aside = os.path.join(os.path.dirname(self.directory), "checkpoints_damaged")
        for step, reason in damaged:
            where = ""
            if quarantine and distributed.is_writer():
                os.makedirs(aside, exist_ok=True)
                target = os.path.join(aside, str(step))
                shutil.rmtree(target, ignore_errors=True)
                shutil.move(os.path.join(self.directory, str(step)), target)
                where = f"; moved to {target}"
            print(f"warning: checkpoint {step} in {self.directory} is damaged: {reason}{where}", file=sys.stderr)
        if fallback is not None:
            print(f"warning: using checkpoint {fallback}, the newest intact one", file=sys.stderr)
        if quarantine:
            distributed.barrier("checkpoints quarantined")
            _listed_again(self.manager.reload)

    def restore_tree(self, step: int, template):
        """Restore checkpoint ``step`` into the structure of ``template`` (concrete or abstract; None: as saved,
        nested dicts); (tree, meta). Leaves without a sharding of their own land on the default device, whatever
        devices the checkpoint was written from (a grid sharded over 4 devices restores on 1)."""
        abstract = None if template is None else jax.tree.map(_on_this_host, template)
        restored = self.manager.restore(step, args=ocp.args.Composite(tree=ocp.args.StandardRestore(abstract),
                                                                      meta=ocp.args.JsonRestore()))
        return restored.tree, restored.meta

    def save(self, step: int, state, normalizer, meta: dict) -> None:
        """A training run's checkpoint: ``{"state", "normalizer"}`` plus meta."""
        self.save_tree(step, {"state": state, "normalizer": normalizer}, meta)

    def close(self) -> None:
        self.manager.close()


def read_json(path: str) -> dict:
    """A JSON file of a workdir or a table; a broken one is a ValueError naming the file, line and column."""
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}); the file was "
                             "edited or cut short: restore it") from None
