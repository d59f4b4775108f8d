"""The ground truth of a simulated population: what is *true* about it, apart from drawing courses.

Every claim of the series is measured against these functions: the exact expected effectiveness E[y | course]
(clipping included) of the courses a population produced (observational), and of a course assigned to everyone
(interventional, with confounding and stopping rules undone), the true next-module distribution after a prefix, and
the posterior of the hidden severity. With subtypes, detours, interim response or a stopping rule, a forward algorithm
runs over the hidden class and flowchart position. :mod:`therapy_utils.simulate` holds the parameters and the
generators; the outcome model they share lives there. Taught in ``01_simulate_therapy_courses.ipynb`` (the oracle),
``05_module_embeddings.ipynb`` (the next module) and ``09_optimizing_courses.ipynb`` (interventions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from therapy_utils.outcome import (
    class_prior,
    class_shift,
    courses_to_matrix,
    noise_sd_for_length,
    outcome_mean,
    progress_parts,
    session_curve,
    step_rows,
    subtype_effects,
)
from therapy_utils.simulate import (
    SimulatorParams,
    check_options,
    refuse_confounding,
    transition_matrices,
    uses_flowcharts,
)
from therapy_utils.stopping_rule import stopping_chance


def clipped_normal_mean(mean: np.ndarray, sd: float) -> np.ndarray:
    """E[clip(X, 0, 1)] for X ~ N(mean, sd): the clipping the simulators apply, in closed form.

    Parameters
    ----------
    mean : numpy.ndarray
        Means of the unclipped outcome, any shape.
    sd : float
        Its standard deviation, positive (an array that broadcasts with ``mean`` works too).

    Returns
    -------
    numpy.ndarray
        The expected clipped values, in [0, 1], shaped like ``mean`` broadcast with ``sd``.
    """
    mean = np.asarray(mean, dtype=float)
    lo, hi = (0.0 - mean) / sd, (1.0 - mean) / sd
    inside = mean * (norm.cdf(hi) - norm.cdf(lo)) + sd * (norm.pdf(lo) - norm.pdf(hi))
    return inside + norm.sf(hi)


def severity_posterior(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """P(severity level | observed modules), shape ``(n, S)``; equals the prior when strength is 0.

    Parameters
    ----------
    params : SimulatorParams
        A realistic-preset population.
    matrix : numpy.ndarray
        ``(n, T)`` module indices, −1 padded (:func:`outcome.courses_to_matrix`).
    lengths : numpy.ndarray
        ``(n,)`` course lengths.

    Returns
    -------
    numpy.ndarray
        ``(n, len(params.severity_levels))`` posterior probabilities; each row sums to 1.
    """
    if uses_flowcharts(params):
        post = _in_chunks(lambda m, n: _flowchart_posterior(params, m, n)[0].sum(axis=(2, 3)), matrix, lengths)
        return post.reshape(len(lengths), -1, len(params.severity_levels)).sum(axis=1)
    starts, trans = transition_matrices(params)
    log_prior = np.log(np.asarray(params.severity_probs, dtype=float))
    loglik = np.tile(log_prior, (matrix.shape[0], 1))
    has_first = lengths > 0
    loglik[has_first] += np.log(starts[:, matrix[has_first, 0]]).T
    for t in range(1, matrix.shape[1]):
        ok = lengths > t
        loglik[ok] += np.log(trans[:, matrix[ok, t - 1], matrix[ok, t]]).T
    loglik -= loglik.max(axis=1, keepdims=True)
    post = np.exp(loglik)
    return post / post.sum(axis=1, keepdims=True)


def expected_effectiveness(params: SimulatorParams, courses: pd.Series | list) -> np.ndarray:
    """Exact E[effectiveness | course]: the oracle every model is measured against (04_evaluation).

    The mean of the course's outcome distribution (:func:`outcome_distribution`): each hidden patient's clipped
    normal mean, weighted by how likely the course makes that patient.

    Parameters
    ----------
    params : SimulatorParams
        The population the courses come from.
    courses : pandas.Series or list
        Courses, each a sequence of module names from ``params.modules``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` expected effectiveness in [0, 1], one per course, given what the course reveals about the patient.

    Raises
    ------
    ValueError
        When a course holds a module the simulator lacks, or the options cannot be combined (e.g. a stopping rule
        with severity).
    """
    return outcome_distribution(params, courses).mean()


def _outcome_sd(params: SimulatorParams, lengths: np.ndarray) -> np.ndarray:
    """Spread of the outcome around its mean for a course of each length: noise plus responsiveness."""
    return np.hypot(noise_sd_for_length(params, lengths), params.responsiveness_sd * session_curve(params, lengths))


def _stopping_nodes(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray,
                    nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Progress at the end ``a + r b`` and ``nodes`` equal-probability values of ``r`` given where the course
    stopped (None when responsiveness does not vary).

    A course that stopped at L means progress reached the threshold at L and not before, which bounds the patient's
    responsiveness ``r`` to an interval; its truncated normal is represented by the midpoints of ``nodes`` equal
    slices in probability space (with 200 nodes, E[y | course] is within 1e-4 of the exact integral in the tests).
    """
    refuse_confounding(params)
    a, b = progress_parts(params, matrix)
    rows, last = np.arange(len(lengths)), lengths - 1
    a_end, b_end = a[rows, last], b[rows, last]
    sd_r = params.responsiveness_sd
    if sd_r == 0:
        return a_end, b_end, None
    bound = (params.stopping_threshold - a) / b  # r at which progress after t sessions reaches the threshold
    t = np.arange(a.shape[1])[None, :]
    earlier = (t >= params.min_length - 1) & (t < last[:, None])
    upper = np.where(earlier, bound, np.inf).min(axis=1)  # it did not stop earlier: r below every earlier bound
    lower = np.where(lengths < params.max_length, bound[rows, last], -np.inf)  # it stopped here: r reached it
    p_lo, p_hi = norm.cdf((lower - 1.0) / sd_r), norm.cdf((upper - 1.0) / sd_r)
    quantiles = p_lo[:, None] + (p_hi - p_lo)[:, None] * (np.arange(nodes) + 0.5)[None, :] / nodes
    return a_end, b_end, 1.0 + sd_r * norm.ppf(np.clip(quantiles, 1e-300, 1 - 1e-16))


# a soft stopping rule's posterior over r: a grid of z = (r - 1) / sd from -6 to 6 (spacing 0.03), prior weights
SOFT_STOPPING_GRID = np.linspace(-6.0, 6.0, 401)


def _soft_stopping_components(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Weights and means of the outcome mixture over a grid of ``r`` under a soft stopping rule, ``(n, 2, K)``.

    A course that stopped at L tells that the patient went on after every earlier session from ``min_length`` and
    stopped at L (unless L is ``max_length``): its likelihood given r is the product of those chances
    (``stopping_rule.stopping_chance``), the posterior is the prior N(1, sd²) on the grid times that product.
    """
    a, b = progress_parts(params, matrix)
    rows, last = np.arange(len(lengths)), lengths - 1
    r = 1.0 + params.responsiveness_sd * SOFT_STOPPING_GRID
    log_weight = np.broadcast_to(norm.logpdf(SOFT_STOPPING_GRID), (len(lengths), len(r))).copy()
    for t in range(params.min_length - 1, a.shape[1]):
        chance = np.clip(stopping_chance(params, a[:, t, None] + r[None, :] * b[:, t, None]), 1e-300, 1 - 1e-16)
        went_on, stopped_here = t < last, (t == last) & (lengths < params.max_length)
        log_weight += np.where(went_on[:, None], np.log1p(-chance), 0.0)
        log_weight += np.where(stopped_here[:, None], np.log(chance), 0.0)
    weights = np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
    means = a[rows, last][:, None] + r[None, :] * b[rows, last][:, None]
    return np.stack([weights / weights.sum(axis=1, keepdims=True), means], axis=1)


def interventional_effectiveness(params: SimulatorParams, courses: pd.Series | list) -> np.ndarray:
    """E[effectiveness | do(course)]: give every patient this course, average over the population's severity.

    The causal answer a recommendation needs (09_optimizing_courses). It differs from
    :func:`expected_effectiveness` only when severity both steers the modules and lowers outcomes:
    observing a crisis module then also says "this patient is probably severe"; assigning it says nothing.

    Parameters
    ----------
    params : SimulatorParams
        The population whose patients receive the course.
    courses : pandas.Series or list
        Courses to assign, each a sequence of module names from ``params.modules``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` expected effectiveness in [0, 1] if every patient received that course.

    Raises
    ------
    ValueError
        When a course holds a module the simulator lacks, or an option value is invalid.
    """
    matrix, lengths = courses_to_matrix(courses, params.modules)
    if params.preset == "original":
        return _outcome_mixture(params, matrix, lengths).mean()  # no confounder: observing = intervening
    check_options(params)
    prior = class_prior(params)
    return (prior[None, :] * clipped_normal_mean(_class_means(params, matrix, lengths),
                                                 _outcome_sd(params, lengths)[:, None])).sum(axis=1)


def _class_means(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Mean effectiveness of each course for each latent class (an average patient's responsiveness): ``(n, K)``."""
    extra = subtype_effects(params)[:, matrix].sum(axis=2).T  # (n, K)
    return outcome_mean(params, matrix, lengths)[:, None] + extra - class_shift(params)[None, :]


def _planted_share(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Original preset: P(the course's opening motif was planted, so boosted | course), ``(n,)``."""
    index = {m: i for i, m in enumerate(params.modules)}
    n_modules = len(params.modules)
    planted = np.zeros(matrix.shape[0])
    for motif in set(params.motifs):
        k = len(motif)
        if matrix.shape[1] < k:
            continue
        opens = (matrix[:, :k] == [index[m] for m in motif]).all(axis=1) & (lengths >= k)
        prior = params.motif_start_prob * params.motifs.count(motif) / len(params.motifs)
        chance = (1 - params.motif_start_prob) * n_modules ** (-k)
        planted[opens] = prior / (prior + chance)
    return planted


def next_module_distribution(params: SimulatorParams, prefixes: pd.Series | list) -> np.ndarray:
    """True P(next module | prefix), shape ``(n, V)`` in ``params.modules`` order (05_module_embeddings).

    The process is first-order Markov given severity, so the answer mixes the transition
    rows of the last module by the posterior over severity given the prefix.

    Parameters
    ----------
    params : SimulatorParams
        A realistic-preset population.
    prefixes : pandas.Series or list
        Non-empty course prefixes, each a sequence of module names from ``params.modules``.

    Returns
    -------
    numpy.ndarray
        ``(n, len(params.modules))`` probabilities of the next module; each row sums to 1.

    Raises
    ------
    ValueError
        When the preset is not realistic, a prefix is empty, or a module is not one of the simulator's.
    """
    if params.preset != "realistic":
        raise ValueError(f"next-module ground truth exists for the realistic preset, not {params.preset!r}")
    matrix, lengths = courses_to_matrix(prefixes, params.modules)
    if (lengths == 0).any():
        raise ValueError(f"row {int(np.argmax(lengths == 0))}: empty prefix has no last module")
    if uses_flowcharts(params):
        return _in_chunks(lambda m, n: _flowchart_posterior(params, m, n)[1], matrix, lengths)
    _, trans = transition_matrices(params)
    post = severity_posterior(params, matrix, lengths)
    last = matrix[np.arange(len(lengths)), lengths - 1]
    return np.einsum("ns,snv->nv", post, trans[:, last, :])


RESPONSIVENESS_NODES = 256


def _responsiveness_nodes(params: SimulatorParams, nodes: int) -> np.ndarray:
    """Equal-probability nodes of the responsiveness (midpoints in probability space); one node, 1, when the
    interim response cannot tell patients apart by it."""
    if params.nonresponse_below is None or params.responsiveness_sd == 0 or params.session_gain == 0:
        return np.ones(1)
    return 1.0 + params.responsiveness_sd * norm.ppf((np.arange(nodes) + 0.5) / nodes)


def _flowchart_posterior(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray,
                         nodes: int = RESPONSIVENESS_NODES) -> tuple[np.ndarray, np.ndarray]:
    """P(class, responsiveness node, flowchart position | course) ``(n, K, J, V)`` and P(next module | course).

    The forward algorithm of a hidden Markov model whose hidden state is the latent class, the patient's
    responsiveness (``nodes`` equal-probability values, :func:`_responsiveness_nodes`) and the flowchart's position
    (the last module that was not a detour). Exact when responsiveness does not steer the course; otherwise the
    nodes are a quadrature whose error in E[y | course] is below 1e-3 with 256 nodes (measured: 6e-4 against 1,024
    nodes, courses of 4 sessions).
    """
    starts, trans = transition_matrices(params)
    rows = step_rows(params, trans)  # (F, K, V, V)
    n_classes, n_modules = starts.shape
    r = _responsiveness_nodes(params, nodes)
    detour = np.zeros(n_modules)
    if params.detour_prob > 0:
        detour[[params.modules.index(m) for m in params.detour_modules]] = (params.detour_prob
                                                                            / len(params.detour_modules))
    flags = _flag_function(params, matrix, r, n_classes)
    n, idx = len(lengths), np.arange(len(lengths))
    alpha = np.zeros((n, n_classes, len(r), n_modules))
    first = matrix[:, 0]
    alpha[idx, :, :, first] = (class_prior(params)[None, :] * starts[:, first].T)[:, :, None] / len(r)
    for t in range(1, matrix.shape[1]):
        active = lengths > t
        x = np.where(active, matrix[:, t], 0)
        moved = sum(np.einsum("nkji,kin->nkj", alpha, rows[f][:, :, x]) * (flags(t) == f)
                    for f in range(len(rows)))
        step = alpha * detour[x][:, None, None, None]
        step[idx, :, :, x] += (1 - params.detour_prob) * moved
        alpha = np.where(active[:, None, None, None], step / step.sum(axis=(1, 2, 3), keepdims=True), alpha)
    alpha /= alpha.sum(axis=(1, 2, 3), keepdims=True)
    flag = flags(lengths)
    following = sum(np.einsum("nkji,kiv->nv", alpha * (flag == f)[..., None], rows[f]) for f in range(len(rows)))
    return alpha, (1 - params.detour_prob) * following + detour[None, :]


def _flag_function(params: SimulatorParams, matrix: np.ndarray, r: np.ndarray, n_classes: int):
    """``flags(t)``: the step rows in force after t sessions (1 = not responding), ``(n, K, J)``; t per course."""
    if params.nonresponse_below is None:
        return lambda t: np.zeros((len(matrix), n_classes, len(r)), dtype=np.int64)
    padded = np.where(matrix >= 0, matrix, 0)
    parts = [progress_parts(params, padded, np.full(len(matrix), k)) for k in range(n_classes)]
    a = np.stack([p[0] for p in parts], axis=1)  # (n, K, T)
    b = parts[0][1]  # (n, T), the same for every class

    def flags(t):
        col = np.broadcast_to(np.asarray(t) - 1, (len(matrix),))
        rows = np.arange(len(matrix))
        progress = a[rows, :, col][:, :, None] + r[None, None, :] * b[rows, col][:, None, None]
        return (progress < params.nonresponse_below).astype(np.int64)
    return flags


def _in_chunks(function, matrix: np.ndarray, lengths: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``function(matrix, lengths)`` on a few hundred courses at a time: the forward algorithm's arrays stay small."""
    return np.concatenate([function(matrix[lo:lo + chunk], lengths[lo:lo + chunk])
                           for lo in range(0, max(len(lengths), 1), chunk)])


@dataclass(frozen=True)
class OutcomeDistribution:
    """The true distribution of each course's effectiveness: ``clip(X, 0, 1)`` with X a mixture of normals.

    Row ``i`` is course ``i``; component ``j`` has weight ``weights[i, j]``, mean ``means[i, j]`` and standard
    deviation ``sds[i, j]`` (the hidden patient classes, responsiveness nodes or planted openings the course leaves
    uncertain). Everything an interval needs follows in closed form from the normal CDF: the true chance that an
    interval holds the outcome, quantiles, the narrowest interval with a given chance (11_uncertainty).
    """

    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def mean(self) -> np.ndarray:
        """E[effectiveness | course], ``(n,)``: what :func:`expected_effectiveness` returns."""
        return (self.weights * clipped_normal_mean(self.means, self.sds)).sum(axis=1)

    def _unclipped_cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X ≤ x) of the mixture before clipping, for one ``x`` per course."""
        return (self.weights * norm.cdf((np.asarray(x, dtype=float)[:, None] - self.means) / self.sds)).sum(axis=1)

    def coverage(self, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """True P(lower ≤ effectiveness ≤ upper | course), one interval per course, clipping's atoms included.

        Parameters
        ----------
        lower, upper : numpy.ndarray
            ``(n,)`` interval ends (or scalars); an end beyond [0, 1] is allowed.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` probabilities in [0, 1]; 0 where ``upper < lower``.
        """
        n = len(self.weights)
        lower, upper = np.broadcast_to(lower, (n,)).astype(float), np.broadcast_to(upper, (n,)).astype(float)
        below_upper = np.where(upper >= 1, 1.0, np.where(upper < 0, 0.0, self._unclipped_cdf(upper)))
        below_lower = np.where(lower <= 0, 0.0, np.where(lower > 1, 1.0, self._unclipped_cdf(lower)))
        return np.clip(below_upper - below_lower, 0.0, 1.0)

    def quantile(self, p: np.ndarray, iterations: int = 60) -> np.ndarray:
        """The ``p``-quantile of each course's effectiveness (one ``p`` per course or a scalar), by bisection.

        Sixty halvings of [0, 1] leave an error below 1e-15; the clipped variable's quantile is the clipped
        quantile of X, so the search runs on X's CDF over [0, 1] directly.
        """
        p = np.broadcast_to(np.asarray(p, dtype=float), (len(self.weights),))
        low, high = np.zeros_like(p), np.ones_like(p)
        for _ in range(iterations):
            middle = (low + high) / 2
            below = self._unclipped_cdf(middle) < p
            low, high = np.where(below, middle, low), np.where(below, high, middle)
        return high

    def oracle_interval(self, level: float, grid: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """The narrowest interval with true chance ``level`` for each course: what a perfect model would give.

        Each candidate leaves ``a`` of the probability below and ``1 - level - a`` above; ``a`` runs over ``grid + 1``
        equally spaced values in [0, 1 - level] and the narrowest wins (for a single normal the central interval,
        exactly; the grid's error in the width is below 1e-3 in the tests).

        Parameters
        ----------
        level : float
            Coverage in (0, 1), e.g. 0.9.
        grid : int, default=200
            Number of steps of the search over the probability left below.

        Returns
        -------
        tuple of numpy.ndarray
            ``lower`` and ``upper``, each ``(n,)``.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        best_lower = best_upper = None
        for below in np.linspace(0.0, 1.0 - level, grid + 1):
            lower = self.quantile(np.full(len(self.weights), below)) if below > 0 else np.zeros(len(self.weights))
            upper = self.quantile(np.full(len(self.weights), min(below + level, 1.0)))
            if best_lower is None:
                best_lower, best_upper = lower, upper
                continue
            narrower = upper - lower < best_upper - best_lower
            best_lower, best_upper = np.where(narrower, lower, best_lower), np.where(narrower, upper, best_upper)
        return best_lower, best_upper


def outcome_distribution(params: SimulatorParams, courses: pd.Series | list) -> OutcomeDistribution:
    """The true distribution of effectiveness given each course: the referee of every interval (11_uncertainty).

    The same hidden structure as :func:`expected_effectiveness` (its mean equals it): the outcome is a clipped normal
    given the hidden patient; the course tells which patient it probably was (severity, subtype, responsiveness
    given where a stopping rule ended it, whether the original's opening was planted), so it is a weighted mixture.

    Parameters
    ----------
    params : SimulatorParams
        The population the courses come from (any preset).
    courses : pandas.Series or list
        Courses, each a sequence of module names from ``params.modules``.

    Returns
    -------
    OutcomeDistribution
        One mixture per course; ``.coverage(lower, upper)`` is an interval's true chance of holding the outcome.
    """
    matrix, lengths = courses_to_matrix(courses, params.modules)
    return _outcome_mixture(params, matrix, lengths)


def _outcome_mixture(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> OutcomeDistribution:
    """:func:`outcome_distribution` for courses already turned into a matrix, one branch per kind of population."""
    if params.preset == "original":
        if params.noise_sd_per_session:
            raise ValueError("noise_sd_per_session needs the realistic generator; the original's truth has one noise "
                             f"sd (got {params.noise_sd_per_session!r})")
        mean, planted = outcome_mean(params, matrix, lengths, count_motifs=False), _planted_share(params, matrix,
                                                                                                    lengths)
        return OutcomeDistribution(np.stack([planted, 1 - planted], axis=1),
                                   np.stack([mean + params.motif_boost, mean], axis=1), np.full((len(mean), 2),
                                                                                                params.noise_sd))
    if params.stopping_threshold is not None and params.stopping_softness > 0 and params.responsiveness_sd > 0:
        refuse_confounding(params)
        parts = _in_chunks(lambda m, n: _soft_stopping_components(params, m, n), matrix, lengths)
        sds = np.broadcast_to(noise_sd_for_length(params, lengths)[:, None], parts[:, 1].shape).copy()
        return OutcomeDistribution(parts[:, 0], parts[:, 1], sds)
    if params.stopping_threshold is not None:
        a_end, b_end, r = _stopping_nodes(params, matrix, lengths, nodes=200)
        means = (a_end + b_end)[:, None] if r is None else a_end[:, None] + r * b_end[:, None]
        return OutcomeDistribution(np.full(means.shape, 1 / means.shape[1]), means,
                                   np.broadcast_to(noise_sd_for_length(params, lengths)[:, None], means.shape).copy())
    if uses_flowcharts(params):
        parts = _in_chunks(lambda m, n: _flowchart_components(params, m, n), matrix, lengths)
        return OutcomeDistribution(parts[:, 0], parts[:, 1], parts[:, 2])
    levels = np.asarray(params.severity_levels, dtype=float)
    means = outcome_mean(params, matrix, lengths)[:, None] - params.severity_strength * params.severity_outcome * (
        levels[None, :])
    sds = np.broadcast_to(_outcome_sd(params, lengths)[:, None], means.shape)
    return OutcomeDistribution(severity_posterior(params, matrix, lengths), means, np.array(sds))


def _flowchart_components(params: SimulatorParams, matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Weights, means and sds of the outcome mixture over latent class × responsiveness node, ``(n, 3, K·J)``."""
    post = _flowchart_posterior(params, matrix, lengths)[0].sum(axis=3)  # (n, K, J)
    means = _class_means(params, matrix, lengths)
    r = _responsiveness_nodes(params, post.shape[2])
    if len(r) == 1:
        means, sds = means[:, :, None], np.broadcast_to(_outcome_sd(params, lengths)[:, None, None], post.shape)
    else:
        means = means[:, :, None] + (r[None, None, :] - 1.0) * session_curve(params, lengths)[:, None, None]
        sds = np.broadcast_to(noise_sd_for_length(params, lengths)[:, None, None], post.shape)
    n = len(lengths)
    return np.stack([post.reshape(n, -1), np.broadcast_to(means, post.shape).reshape(n, -1),
                     np.broadcast_to(sds, post.shape).reshape(n, -1)], axis=1)
