"""The trained models the notebooks load, and how to make each again (03_training explains checkpoints).

Every training whose numbers a notebook shows is committed in ``notebooks/checkpoints/<name>/``, so the notebooks'
outputs do not depend on the machine: a training repeated on another CPU rounds differently in the last bits, and
after thousands of steps it can end somewhere measurably different. This table says, for each checkpoint, which
data, configs and seed made it; ``tests/test_checkpoints.py`` trains each again and compares, and
``benchmarks/float_order.py`` measures how far a retraining moves under other float orders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from therapy_utils import checkpoint, data, files, model, optimize, simulate, train, uncertainty
from therapy_utils.course import transfer
from therapy_utils.model import SequenceModel

SEED = 0  # every notebook's SEED
# One CNN of the five-CNN ensemble: what notebook 09 trains on records (the ensemble would take five times as long).
SINGLE_CNN = (replace(model.CNN_ENSEMBLE_CONFIG, ensemble_size=1), train.BEST_TRAIN_CONFIG)
# benchmarks/accuracy.py's first confirmation seed: notebook 08 reproduces the winner's run on it
CONFIRMATION_SEED = 1000
TRANSFER_SIZE = 200  # notebook 07's live cell of the transfer grid: 200 target courses, seed SEED


def notebook_courses(artifacts: str | Path) -> pd.DataFrame:
    """Notebook 01's 2,000 realistic courses, read back through the CSV in ``artifacts`` as the notebooks read them."""
    return files.load_or_simulate(Path(artifacts) / "realistic_courses.csv", simulate.preset_params("realistic"),
                                 n_sequences=2000, seed=SEED)


def confounded_records() -> pd.DataFrame:
    """Notebook 09's records in which sicker patients get crisis modules (severity strength 2)."""
    return simulate.simulate_courses(simulate.preset_params("realistic", severity_strength=2.0), 2000, seed=SEED)


def heteroscedastic_courses() -> pd.DataFrame:
    """Notebook 11's courses whose outcome noise grows with the course's length (``simulate.HETEROSCEDASTIC``)."""
    return simulate.simulate_courses(simulate.preset_params("heteroscedastic"), 2000, seed=SEED)


def stopped_records() -> pd.DataFrame:
    """Notebook 09's records in which a course ends once the patient is doing well enough."""
    return simulate.simulate_courses(simulate.preset_params("realistic", **simulate.STOPPING_RULE), 2000, seed=SEED)


@dataclass(frozen=True)
class Entry:
    """One committed checkpoint: the notebook that loads it, its course table, its configs and its seed."""

    notebook: str
    courses: Callable[[Path], pd.DataFrame]  # artifacts folder → the course table it was trained on
    model_config: model.ModelConfig
    train_config: train.TrainConfig
    seed: int = SEED

    def recipe(self, artifacts: str | Path) -> checkpoint.Recipe:
        """The library's recipe of this checkpoint (:func:`checkpoint.training_recipe`)."""
        return checkpoint.training_recipe(self.courses(Path(artifacts)), self.model_config, self.train_config,
                                          self.seed)


RECIPES: dict[str, Entry] = {
    "realistic_lstm": Entry("03_training", notebook_courses, model.ModelConfig(), train.TUTORIAL_TRAIN_CONFIG),
    "realistic_multitask": Entry("05_module_embeddings", notebook_courses, model.MULTITASK_CONFIG,
                                  train.TUTORIAL_TRAIN_CONFIG),
    "realistic_small_start": Entry("05_module_embeddings", notebook_courses, model.SMALL_START_CONFIG,
                                    train.TUTORIAL_TRAIN_CONFIG),
    "realistic_multitask_default_start": Entry("05_module_embeddings", notebook_courses,
                                                model.HEAD_DEFAULT_START_CONFIG, train.TUTORIAL_TRAIN_CONFIG),
    "transfer_pretrained": Entry("07_transfer_learning", lambda _: transfer.TRANSFER_SETUP.source(),
                                  transfer.TRANSFER_SETUP.model_config, transfer.TRANSFER_SETUP.pretrain_config,
                                  transfer.TRANSFER_SETUP.train_seed),
    "original_best": Entry("08_model_comparison",
                            lambda _: simulate.simulate_courses(simulate.preset_params("original"), 500,
                                                                seed=CONFIRMATION_SEED),
                            *train.NAMED_MODELS["best"], seed=CONFIRMATION_SEED),
    "realistic_cnn_ensemble": Entry("09_optimizing_courses, 10_explaining_predictions, 11_uncertainty",
                                     notebook_courses, *train.CNN_ENSEMBLE),
    "realistic_quantiles": Entry("11_uncertainty", notebook_courses, uncertainty.QUANTILE_CONFIG,
                                  train.BEST_TRAIN_CONFIG),
    # the adjusted model's control: every course gets the same token, so it shifts positions and length as the
    # severity token does but carries no information
    "confounded_placebo_token": Entry("09_optimizing_courses", lambda _: optimize.with_severity_tokens(
        confounded_records().assign(severity=0.0)), *SINGLE_CNN),
    "heteroscedastic_cnn_ensemble": Entry("11_uncertainty", lambda _: heteroscedastic_courses(), *train.CNN_ENSEMBLE),
    "heteroscedastic_quantiles": Entry("11_uncertainty", lambda _: heteroscedastic_courses(),
                                        uncertainty.QUANTILE_CONFIG, train.BEST_TRAIN_CONFIG),
    "confounded_naive": Entry("09_optimizing_courses", lambda _: confounded_records(), *SINGLE_CNN),
    "confounded_adjusted": Entry("09_optimizing_courses",
                                  lambda _: optimize.with_severity_tokens(confounded_records()), *SINGLE_CNN),
    "stopping_rule": Entry("09_optimizing_courses", lambda _: stopped_records(), *SINGLE_CNN),
}


def point_predictions(fitted: SequenceModel, predictions: np.ndarray) -> np.ndarray:
    """One number per course to score a checkpoint by: the prediction, or a quantile model's median column."""
    if predictions.ndim == 1:
        return predictions
    return predictions[:, list(fitted.config.quantiles).index(0.5)]


def transfer_directory(checkpoints: str | Path, start: str) -> Path:
    """Where notebook 07 keeps the model learnt from ``start`` (one of :data:`transfer.TRANSFER_STARTS`)."""
    return Path(checkpoints) / ("transfer_" + re.sub(r"[^a-z0-9]+", "_", start))


def transfer_fitter(checkpoints: str | Path, vocab: data.Vocabulary, pretrained: SequenceModel,
                    embeddings: pd.DataFrame, start: str, overwrite: bool = False,
                    **train_options) -> Callable[[dict[str, pd.DataFrame], int], SequenceModel]:
    """A ``fit(parts, seed)`` for :func:`evaluate.learning_curve` that loads or trains notebook 07's models.

    Parameters
    ----------
    checkpoints : the notebooks' checkpoint folder.
    vocab : the source population's vocabulary (the target's modules are the same).
    pretrained : the pre-trained model (``transfer_pretrained``).
    embeddings : the embedding table the embedding starts begin from (as loaded from its file).
    start : one of :data:`transfer.TRANSFER_STARTS`.
    overwrite : train again even where a checkpoint exists.
    train_options : passed to :func:`train.train_model` (``progress``, ``device``).
    """
    config = transfer.TRANSFER_SETUP.train_config_for(start)

    def fit(parts: dict[str, pd.DataFrame], seed: int) -> SequenceModel:
        recipe = transfer.transfer_recipe(start, parts, vocab, config, seed, pretrained, embeddings)
        return checkpoint.fit_or_load(transfer_directory(checkpoints, start), recipe, overwrite, **train_options)[0]

    return fit


def refit(name: str, directory: str | Path, artifacts: str | Path,
          checkpoints: str | Path) -> tuple[SequenceModel, data.Vocabulary, pd.DataFrame]:
    """Train checkpoint ``name`` from scratch into ``directory``; also returns its test courses.

    ``checkpoints`` is the folder holding the pre-trained model that notebook 07's transfer models start from.

    Returns
    -------
    model, vocabulary, and the test courses the notebooks evaluate it on (for a transfer model: the target's
    1,000 fixed test courses).
    """
    if name not in RECIPES:
        return _refit_transfer(name, directory, artifacts, checkpoints)
    entry = RECIPES[name]
    fitted, vocab, _ = checkpoint.fit_or_load(directory, entry.recipe(artifacts), overwrite=True, progress=False)
    return fitted, vocab, data.split_courses(entry.courses(Path(artifacts)))["test"]


def _refit_transfer(name: str, directory: str | Path, artifacts: str | Path,
                    checkpoints: str | Path) -> tuple[SequenceModel, data.Vocabulary, pd.DataFrame]:
    """:func:`refit` for one of notebook 07's transfer models: from the shipped pre-trained model, 200 courses."""
    from therapy_utils.embeddings import embedding_table
    from therapy_utils.evaluate import draw_training_set

    start = next((s for s in transfer.TRANSFER_STARTS if transfer_directory("", s).name == name), None)
    if start is None:
        raise ValueError(f"unknown checkpoint {name!r}; choose one of {sorted(checkpoint_names())}")
    source = RECIPES["transfer_pretrained"].recipe(artifacts)
    pretrained, vocab, _ = checkpoint.fit_or_load(Path(checkpoints) / "transfer_pretrained", source)
    pool, test = transfer.TRANSFER_SETUP.target()
    recipe = transfer.transfer_recipe(start, draw_training_set(pool, TRANSFER_SIZE, SEED), vocab,
                                      transfer.TRANSFER_SETUP.train_config_for(start), SEED, pretrained,
                                      embedding_table(pretrained, vocab))
    fitted, vocab, _ = checkpoint.fit_or_load(directory, recipe, overwrite=True, progress=False)
    return fitted, vocab, test


def checkpoint_names() -> list[str]:
    """Every committed checkpoint: the recipes above and notebook 07's five transfer models."""
    return [*RECIPES, *(transfer_directory("", start).name for start in transfer.TRANSFER_STARTS)]


# Notebook 12's session model and the truth's chances it is scored against (early_warning's own checkpoint format)
CLINIC_PATIENTS = 5000
SESSION_CHECKPOINTS = {"clinic_session_lstm": "12_session_by_session", "clinic_truth": "12_session_by_session"}


def clinic_parts(seed: int = SEED) -> tuple[data.Vocabulary, dict]:
    """Notebook 12's 5,000 clinic patients as :class:`sessions.SessionCourses`, split by patient, and the vocabulary."""
    from therapy_utils import clinic, sessions

    vocab = data.Vocabulary(clinic.CLINIC.flowchart.modules)
    courses = sessions.session_courses(clinic.simulate_clinic(clinic.CLINIC, CLINIC_PATIENTS, seed), vocab)
    return vocab, {name: courses.subset(rows) for name, rows in sessions.split_patients(len(courses), seed).items()}
