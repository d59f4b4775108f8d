"""The exercise checks of notebook 06, Interactive course builder (``check.ex06_*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from therapy_utils import evaluate, simulate
from therapy_utils.course.check import guards
from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.evaluate import Scorer


def ex06_occlusion(function: Callable) -> Verdict:
    """Build: ``function(score, course)`` gives each position the score of the course minus the score without it."""
    course = ("A", "B", "A", "F", "F", "K")
    result, problem = guards.call(function, guards.true_means, course)
    got, problem = (None, problem) if problem else guards.read_array(result, "your contributions")
    if problem:
        return problem
    expected = evaluate.occlusion(guards.true_means, course)
    if got.shape == expected.shape and np.allclose(got, -expected):
        return Verdict(False, "the sign is flipped: a module that helps must get a positive contribution.")
    return (guards.same_values(got, expected, "your contributions")
            or Verdict(True, "equal to evaluate.occlusion on the truth."))


def ex06_close_course(course: object, model_score: Scorer) -> Verdict:
    """Investigate: a course of 4 modules on which the model and the truth differ by less than 0.01.
    ``model_score`` must be the notebook's model (see :func:`guards.model_check`)."""
    found = guards.model_and_truth(course, model_score, length=4)
    if isinstance(found, Verdict):
        return found
    course, predicted, true = found
    if abs(predicted - true) >= 0.01:
        return Verdict(False, f"the model says {predicted:.3f}, the truth {true:.3f}; try courses like those the "
                              "model saw most often.")
    return Verdict(True, f"the model says {predicted:.3f}, the truth {true:.3f}.")


def ex06_best_next(answer: str, course: Sequence[str] = ("C", "D"), model_score: Scorer | None = None) -> Verdict:
    """Predict-then-run: which module does the truth say to add after ``course``? With ``model_score`` (the
    notebook's model, see :func:`guards.model_check`), a right answer also says where the model ranks that module."""
    if guards.unanswered(answer):
        return NO_ANSWER
    course, problem = guards.read_course(course)
    if problem or not course:
        return problem or Verdict(False, "the course to extend is empty; give it at least one module.")
    module = answer.strip().upper() if isinstance(answer, str) else None
    if module not in simulate.LETTERS:
        return Verdict(False, f"{guards.show(answer)} is not a module; answer one letter A–Q.")
    gains = evaluate.next_module_gains(guards.true_means, course, simulate.LETTERS)
    if gains[module] < gains.max() - 1e-9:
        motifs = guards.realistic_params().motifs
        begun = any(course[-k:] == motif[:k] for motif in motifs for k in range(1, len(motif)))
        return Verdict(False, f"adding {module} gains {gains[module]:+.3f} in the truth; another module gains more. "
                              + ("Which motif has the course already begun?" if begun else
                                 "Compare every module's gain with evaluate.next_module_gains."))
    verdict = f"adding {module} gains {gains[module]:+.3f}, the most of any module."
    if model_score is None:
        return Verdict(True, verdict)
    _, problem = guards.model_check(guards.batch_scores(model_score))
    scores, problem = (None, problem) if problem else guards.batch_scores(model_score)(
        [course, *((*course, m) for m in simulate.LETTERS)])
    if problem:
        return problem
    model_gains = pd.Series(scores[1:] - scores[0], index=simulate.LETTERS).sort_values(ascending=False, kind="stable")
    rank, top = model_gains.index.get_loc(module) + 1, model_gains.index[0]
    if rank == 1:
        return Verdict(True, verdict + f" The model agrees: it is its first choice too ({model_gains[top]:+.3f}).")
    return Verdict(True, verdict + f" The model ranks it {rank} of {len(model_gains)} ({model_gains[module]:+.3f}); "
                                   f"its first choice is {top} ({model_gains[top]:+.3f}).")
