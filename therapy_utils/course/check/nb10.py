"""The exercise checks of notebook 10, Explaining predictions (``check.ex10_*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from therapy_utils import evaluate
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.evaluate import Scorer


def ex10_ig_linear(function: Callable) -> Verdict:
    """Build: ``function(w, x, baseline)``: integrated gradients of f(x) = w · x, one attribution per coordinate."""
    rng = np.random.default_rng(10)
    w, x, baseline = rng.normal(size=6), rng.normal(size=6), rng.normal(size=6)
    result, problem = guards.call(function, w.copy(), x.copy(), baseline.copy())
    got, problem = (None, problem) if problem else guards.read_array(result, "your attributions")
    if problem:
        return problem
    if got.shape == (6,) and np.allclose(got, w * x):
        return Verdict(False, "the baseline is missing: IG integrates along the path from the baseline to x.")
    if got.shape == (6,) and not np.isclose(got.sum(), w @ x - w @ baseline):
        return Verdict(False, "not complete: the attributions must add up to f(x) − f(baseline).")
    return guards.same_values(got, (x - baseline) * w, "your attributions") or Verdict(
        True, "for a linear model IG is exact: (x − x′) ⊙ w, and it adds up to f(x) − f(x′).")


def _attributions(attributions: Callable, course: tuple[str, ...]) -> tuple[np.ndarray | None, Verdict | None]:
    """The learner's attributions for ``course``, run guarded: one finite number per position, not all equal."""
    values, problem, shape = guards.call_for_values(attributions, course, len(course), "your attributions")
    if problem:
        return None, problem
    if values is None:
        return None, Verdict(False, f"the attributions have shape {shape}; give one number per position of "
                                    f"the course ({len(course)}).")
    if np.ptp(values) == 0:
        return None, Verdict(False, "your attributions give every position the same value: no position is the most "
                                    "important, so they cannot disagree with anything.")
    return values, None


def ex10_disagree(course: object, model_score: Scorer, attributions: Callable) -> Verdict:
    """Investigate: a motif-free course of at most 6 modules where occlusion and ``attributions(course)`` (integrated
    gradients) pick different most important positions. ``model_score`` must be the notebook's model."""
    course, problem = guards.read_course(course)
    if problem:
        return problem
    if not 2 <= len(course) <= 6:
        return Verdict(False, f"the course has {len(course)} modules; take one of 2 to 6.")
    if evaluate.motif_positions(course, guards.realistic_params().motifs):
        return Verdict(False, "the course holds a motif; find one without.")
    _, problem = guards.model_check(guards.batch_scores(model_score), course)
    occluded, problem = (None, problem) if problem else guards.call(evaluate.occlusion, model_score, course)
    integrated, problem = (None, problem) if problem else _attributions(attributions, course)
    if problem:
        return problem
    by_occlusion, by_integrated = int(np.argmax(occluded)), int(np.argmax(integrated))
    if by_occlusion == by_integrated:
        return Verdict(False, f"both put position {by_occlusion} ({course[by_occlusion]}) first. Where no position "
                              "stands out, small differences decide.")
    return Verdict(True, f"occlusion picks position {by_occlusion} ({course[by_occlusion]}), integrated gradients "
                         f"{by_integrated} ({course[by_integrated]}).")


def ex10_least_removed(answer: str, model_score: Scorer, courses: Sequence[Sequence[str]]) -> Verdict:
    """Predict-then-run: removing each course's 3 *least* occlusion-attributed positions changes the prediction
    "more" or "less" than removing 3 random ones? Judged by the mean drop of the prediction (comprehensiveness)
    over ``courses``, at least ``guards.MIN_REMOVAL_COURSES`` of them longer than 3; ``model_score`` must be
    the notebook's model."""
    k, minimum = 3, guards.MIN_REMOVAL_COURSES
    if guards.unanswered(answer):
        return NO_ANSWER
    said = guards.read_word(answer, {"more": ("larger", "bigger"), "less": ("smaller", "fewer")})
    if said is None:
        return Verdict(False, f"answer 'more' or 'less', not {guards.show(answer)}.")
    courses, problem = guards.read_courses(courses, "the courses")
    if problem:
        return problem
    if sum(len(c) > k for c in courses) < minimum:
        return Verdict(False, f"{sum(len(c) > k for c in courses)} of the courses are longer than {k} modules; an "
                              f"average over fewer than {minimum} says little — pass the held-out courses.")
    _, problem = guards.model_check(guards.batch_scores(model_score))
    checks, problem = (None, problem) if problem else guards.call(
        lambda: evaluate.removal_checks(model_score, [-evaluate.occlusion(model_score, c) for c in courses], courses,
                                        k=k, seed=0))
    if problem:
        return problem
    least, random = checks["comprehensiveness_top"], checks["comprehensiveness_random"]
    expected = "more" if least > random else "less"
    if said != expected:
        return Verdict(False, "the least attributed positions are those whose removal the model minds least (or "
                              "even welcomes).")

    def moves(drop: float) -> str:
        return f"{'lowers' if drop >= 0 else 'raises'} the prediction by {abs(drop):.3f}"
    welcome = " — the model even welcomes losing them" if least < 0 else ""
    return Verdict(True, f"removing the {k} least attributed positions {moves(least)} on average, removing {k} "
                         f"random ones {moves(random)}: the prediction drops {expected} than for random "
                         f"positions{welcome}.")
