"""Interval estimates for comparing methods over independent runs, from rliable (Agarwal et al., "Deep RL at the
edge of the statistical precipice", NeurIPS 2021): mean and interquartile mean (IQM) with stratified-bootstrap
confidence intervals, the probability of improvement, and performance profiles. Nothing here is computed by
hand; these functions only shape our scores for rliable and its results for JSON and for the pages' text.

Scores are arrays ``[runs, tasks]`` (one column for a single cell). rliable's bootstrap resamples runs with numpy's
global generator (its ``random_state`` argument does not reach the resampling), so every function here seeds that
generator with its ``seed`` for the call and then puts its state back: the same scores and seed give the same
intervals, and the caller's own draws are left as they were.
"""

from __future__ import annotations

import contextlib

import numpy as np
from rliable import library as rly
from rliable import metrics

CONFIDENCE = 0.95
METHOD = "percentile"  # rliable's default interval: the bootstrap distribution's 2.5th and 97.5th percentiles
# The resamples every results page takes (and records in its JSON): intervals, P(X > Y) and profiles, and their seed.
BOOTSTRAP = {"reps": 10_000, "pairs_reps": 2_000, "seed": 0}


@contextlib.contextmanager
def _seeded(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _columns(scores) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    scores = scores[:, None] if scores.ndim == 1 else scores
    if scores.ndim != 2 or scores.shape[0] < 2 or not np.all(np.isfinite(scores)):
        raise ValueError(f"scores: expected finite [runs >= 2, tasks], got shape {scores.shape}")
    return scores


def mean_and_iqm(scores, reps: int, seed: int) -> dict:
    """Mean and IQM over runs (and tasks) with their 95% stratified-bootstrap intervals (runs resampled within
    each task). ``scores``: [runs] or [runs, tasks]."""
    scores = _columns(scores)

    def aggregates(x):
        return np.array([metrics.aggregate_mean(x), metrics.aggregate_iqm(x)])

    with _seeded(seed):
        point, interval = rly.get_interval_estimates({"x": scores}, aggregates, method=METHOD, reps=reps,
                                                     confidence_interval_size=CONFIDENCE)
    (mean, iqm), ((mean_lo, iqm_lo), (mean_hi, iqm_hi)) = point["x"], interval["x"]
    return {"mean": float(mean), "mean_ci": [float(mean_lo), float(mean_hi)],
            "iqm": float(iqm), "iqm_ci": [float(iqm_lo), float(iqm_hi)]}


def probability_of_improvement(x, y, reps: int, seed: int) -> dict:
    """P(X > Y): the chance that a run of X scores above a run of Y (ties count half; the Mann-Whitney U statistic
    over runs, averaged over tasks), with its 95% stratified-bootstrap interval. ``x``, ``y``: [runs] or
    [runs, tasks], the same tasks in the same order (their run counts may differ)."""
    x, y = _columns(x), _columns(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"probability of improvement: {x.shape[1]} tasks against {y.shape[1]}")
    with _seeded(seed):
        point, interval = rly.get_interval_estimates({"x,y": (x, y)}, metrics.probability_of_improvement,
                                                     method=METHOD, reps=reps, confidence_interval_size=CONFIDENCE)
    lo, hi = np.ravel(interval["x,y"])
    return {"p": float(point["x,y"]), "ci": [float(lo), float(hi)]}


def performance_profiles(score_dict: dict, taus, reps: int, seed: int) -> tuple[dict, dict]:
    """For each method's [runs, tasks] normalized scores, the fraction of runs scoring above each tau, with its
    95% stratified-bootstrap band: ({method: [taus]}, {method: [2, taus]}). Each method's band is drawn from the
    seed alone, so it depends on its own scores only."""
    profiles, bands = {}, {}
    for name, scores in score_dict.items():
        with _seeded(seed):
            (profiles[name],), (bands[name],) = (d.values() for d in rly.create_performance_profile(
                {name: _columns(scores)}, np.asarray(taus), method=METHOD, reps=reps,
                confidence_interval_size=CONFIDENCE))
    return profiles, bands


def shows_difference(ci: list[float], null: float = 0.5) -> bool:
    """Whether a probability of improvement's interval excludes ``null`` (no difference)."""
    return ci[0] > null or ci[1] < null


def number(value: float, places: int) -> str:
    """A score as the pages print it: ``places`` decimals and a typographic minus."""
    return f"{value:.{places}f}".replace("-", "−")


def interval_text(value: float, ci, places: int = 1) -> str:
    """``value [low, high]``, each with ``places`` decimals."""
    return f"{number(value, places)} [{number(ci[0], places)}, {number(ci[1], places)}]"


def mean_text(cell: dict, places: int = 1) -> str:
    """The mean and its interval of a :func:`mean_and_iqm` result."""
    return interval_text(cell["mean"], cell["mean_ci"], places)


def improvement_text(label: str, value: dict, after: str = "") -> str:
    """A :func:`probability_of_improvement` result for a page: ``P(label)<after> = p [low, high] (shown)``, or
    ``(no difference shown)`` when its interval holds 0.5."""
    shown = "shown" if shows_difference(value["ci"]) else "no difference shown"
    return f"P({label}){after} = {interval_text(value['p'], value['ci'], 2)} ({shown})"
