"""Predictions, metrics, the oracle ceiling, an order-blind baseline, and per-course explanations.

Taught in ``04_evaluation.ipynb`` (metrics) and ``06_interactive_course_builder.ipynb`` (explanations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from therapy_utils.data import Vocabulary
from therapy_utils.model import TherapySequenceModel
from therapy_utils.train import make_loader


def predict(model: TherapySequenceModel, courses: pd.DataFrame | Sequence[Sequence[str]], vocab: Vocabulary,
            batch_size: int = 16) -> np.ndarray:
    """Predicted effectiveness (float32) for a course table or a list of courses (04_evaluation)."""
    table = courses if isinstance(courses, pd.DataFrame) else pd.DataFrame({"modules": [tuple(c) for c in courses]})
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    with torch.inference_mode():
        for padded, lengths, _ in make_loader(table, vocab, batch_size, shuffle=False):
            outputs.append(model(padded.to(device), lengths).cpu())
    return torch.cat(outputs).numpy()


Scorer = Callable[[list[tuple[str, ...]]], np.ndarray]


def model_scorer(model: TherapySequenceModel, vocab: Vocabulary) -> Scorer:
    """Courses → the model's predictions, so explanations treat a model and the truth alike."""
    return lambda courses: predict(model, courses, vocab, batch_size=max(len(courses), 1)).astype(np.float64)


def occlusion(score: Scorer, course: Sequence[str]) -> np.ndarray:
    """Each position's contribution: the score of the course minus the score without that position.

    Like RETAIN's per-visit contributions (06_interactive_course_builder). A one-module course has
    nothing to compare with, so it gets no contributions.
    """
    course = tuple(course)
    if len(course) < 2:
        return np.zeros(0)
    without = [course[:i] + course[i + 1:] for i in range(len(course))]
    scores = score([course, *without])
    return scores[0] - scores[1:]


def next_module_gains(score: Scorer, course: Sequence[str], candidates: Sequence[str]) -> pd.Series:
    """Score change from appending each candidate module, best first (06_interactive_course_builder)."""
    course = tuple(course)
    if not course:
        raise ValueError("course is empty; add a module before asking what should follow")
    scores = score([course, *[(*course, module) for module in candidates]])
    gains = pd.Series(scores[1:] - scores[0], index=list(candidates), name="gain")
    return gains.sort_values(ascending=False, kind="stable")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE and R², computed in the predictions' own precision as the original did."""
    mse = mean_squared_error(y_true, y_pred)
    return {"mse": float(mse), "rmse": float(np.sqrt(mse)), "r2": float(r2_score(y_true, y_pred))}


def count_features(courses: pd.Series | Sequence[Sequence[str]], modules: Sequence[str]) -> np.ndarray:
    """How often each module occurs, plus the course length: everything an order-blind model sees."""
    column = {m: j for j, m in enumerate(modules)}
    features = np.zeros((len(courses), len(modules) + 1))
    for row, course in enumerate(courses):
        for module in course:
            if module in column:
                features[row, column[module]] += 1
        features[row, -1] = len(course)
    return features


def count_baseline(train: pd.DataFrame, modules: Sequence[str], alpha: float = 1.0) -> Pipeline:
    """Ridge on module counts and length, fitted on ``train``: the order-blind yardstick (04_evaluation).

    The CLI fits it on train + validation courses, all the data the network learns from.
    """
    features = FunctionTransformer(count_features, kw_args={"modules": tuple(modules)})
    return make_pipeline(features, Ridge(alpha=alpha)).fit(train["modules"], train["effectiveness"].to_numpy())
