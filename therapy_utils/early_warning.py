"""Early warning: predict a course's outcome after every session, from the modules and scores so far.

The data are the clinic's sessions as padded arrays (:mod:`therapy_utils.sessions`). The sequence model reads
(module, score) at each step and gives a chance of reliable improvement after every prefix; the baselines are the
literature's: the intake score alone, the change so far, a logistic regression on the scores so far (one per session
number) and the "not on track" rule of routine outcome monitoring (a score above the expected recovery curve's 90th
percentile, :func:`therapy_utils.prognosis.recovery_curves`). The truth after every prefix, the whole comparison and
the checkpoints the notebook loads are here too. Taught in ``12_session_by_session.ipynb``;
:mod:`therapy_utils.evaluate.by_session` scores the predictions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from therapy_utils.checkpoint import digest
from therapy_utils.clinic import PHQ9_MAX, ClinicParams
from therapy_utils.data import Vocabulary
from therapy_utils.model import PADDING_INDEX, torch_rng
from therapy_utils.prognosis import improvement_chances, recovery_curves
from therapy_utils.sessions import SCORED_SESSIONS, SessionCourses, split_patients

# The sequence model --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WarningConfig:
    """The sequence model's size and training, validated on creation.

    Attributes
    ----------
    embedding_dim, hidden_dim : int
        Module embedding and LSTM state sizes.
    lr : float
        Adam's learning rate.
    batch_size, max_epochs, patience : int
        Courses per step; epochs at most; stop after this many epochs without a better validation loss (the best
        epoch's weights are kept).
    """

    embedding_dim: int = 8
    hidden_dim: int = 32
    lr: float = 3e-3
    batch_size: int = 128
    max_epochs: int = 60
    patience: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kinds = (int, float) if f.type == "float" else (int,)
            if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
                raise ValueError(f"WarningConfig.{f.name} must be a positive {f.type}, got {value!r}")


class SessionOutcomeModel(nn.Module):
    """Embedding + LSTM over (module, score) steps, with a chance of reliable improvement read after every step.

    Each step's input is the module's embedding, the score / 27 and the drop since the first score / 27 (the outcome
    is defined by that drop, so the model is given it rather than made to learn a subtraction). The LSTM reads left to
    right, so the output at step k depends on the first k sessions only: one pass gives every prefix's prediction.
    """

    def __init__(self, vocab_size: int, config: WarningConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=PADDING_INDEX)
        self.lstm = nn.LSTM(config.embedding_dim + 2, config.hidden_dim, batch_first=True)
        self.head = nn.Linear(config.hidden_dim, 1)

    def forward(self, modules: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """``(n, T)`` modules and scores (padding: any number) → ``(n, T)`` logits, one per prefix."""
        scaled = torch.nan_to_num(scores) / PHQ9_MAX
        steps = torch.cat([self.embedding(modules), scaled[..., None], (scaled[:, :1] - scaled)[..., None]], dim=-1)
        hidden, _ = self.lstm(steps)
        return self.head(hidden).squeeze(-1)


def _tensors(data: SessionCourses) -> tuple[torch.Tensor, ...]:
    steps = np.arange(data.modules.shape[1])[None, :] < data.lengths[:, None]
    target = np.broadcast_to(data.improved[:, None], steps.shape).astype(np.float32)
    return (torch.from_numpy(data.modules), torch.from_numpy(data.scores.astype(np.float32)),
            torch.from_numpy(target.copy()), torch.from_numpy(steps))


def _masked_loss(model: SessionOutcomeModel, modules, scores, target, mask) -> torch.Tensor:
    """Binary cross-entropy over every attended session: each prefix predicts its course's outcome."""
    loss = nn.functional.binary_cross_entropy_with_logits(model(modules, scores), target, reduction="none")
    return (loss * mask).sum() / mask.sum()


def fit_session_model(train: SessionCourses, val: SessionCourses, vocab_size: int, config: WarningConfig,
                      seed: int) -> tuple[SessionOutcomeModel, pd.DataFrame]:
    """Train the sequence model with early stopping on the validation loss (12_session_by_session).

    Parameters
    ----------
    train, val : SessionCourses
        Training and validation courses (split by patient, :func:`split_patients`).
    vocab_size : int
        ``len(vocab)``: modules plus padding.
    config : WarningConfig
        Size and training settings.
    seed : int
        Seeds the initial weights and the batches' order.

    Returns
    -------
    model : SessionOutcomeModel
        With the best validation epoch's weights, in evaluation mode.
    history : pandas.DataFrame
        ``train_loss`` and ``val_loss`` per epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch_rng(generator):
        model = SessionOutcomeModel(vocab_size, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    train_t, val_t = _tensors(train), _tensors(val)
    best, best_loss, waited, history = None, np.inf, 0, []
    for _ in range(config.max_epochs):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(train), generator=generator).split(config.batch_size):
            optimizer.zero_grad()
            loss = _masked_loss(model, *(t[batch] for t in train_t))
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        model.eval()
        with torch.inference_mode():
            val_loss = float(_masked_loss(model, *val_t))
        history.append({"train_loss": total / len(train), "val_loss": val_loss})
        if val_loss < best_loss:
            best, best_loss, waited = {k: v.clone() for k, v in model.state_dict().items()}, val_loss, 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best)
    return model.eval(), pd.DataFrame(history).rename_axis("epoch")


def predict_by_session(model: SessionOutcomeModel, data: SessionCourses) -> np.ndarray:
    """The model's chance of reliable improvement after each session of every course (12_session_by_session).

    Parameters
    ----------
    model : SessionOutcomeModel
        A trained sequence model.
    data : SessionCourses
        The courses to predict.

    Returns
    -------
    numpy.ndarray
        ``(n, T)`` chances, NaN after each course's end.
    """
    modules, scores, _, mask = _tensors(data)
    with torch.inference_mode():
        chance = torch.sigmoid(model(modules, scores)).double().numpy()
    return np.where(mask.numpy(), chance, np.nan)


# The baselines -------------------------------------------------------------------------------------------------

BASELINES = ("intake score", "change so far", "scores so far")


def _features(data: SessionCourses, rows: np.ndarray, k: int, kind: str) -> np.ndarray:
    scores = data.scores[rows, :k]
    if kind == "intake score":
        return scores[:, :1]
    if kind == "change so far":
        return scores[:, :1] - scores[:, -1:]
    return scores


def fit_baselines(train: SessionCourses, sessions: tuple[int, ...] = SCORED_SESSIONS
                  ) -> dict[str, dict[int, LogisticRegression]]:
    """The literature's linear baselines, one logistic regression per baseline and session number k.

    ``intake score`` reads the first score; ``change so far`` the first minus the k-th; ``scores so far`` all k
    scores (the strong baseline of Hentati Isacsson et al. 2024). Each is fitted on the training courses still
    coming at session k, without regularisation to speak of (C = 100: a few features, thousands of courses).

    Parameters
    ----------
    train : SessionCourses
        Training courses.
    sessions : tuple of int, default=(1, …, 8)
        The session numbers k to fit.

    Returns
    -------
    dict
        Baseline name → k → fitted ``LogisticRegression``.
    """
    fitted: dict[str, dict[int, LogisticRegression]] = {name: {} for name in BASELINES}
    for k in sessions:
        rows = np.flatnonzero(train.lengths >= k)
        for name in BASELINES:
            fitted[name][k] = LogisticRegression(C=100.0, max_iter=1000).fit(
                _features(train, rows, k, name), train.improved[rows])
    return fitted


def baseline_chances(fitted: dict[str, dict[int, LogisticRegression]], data: SessionCourses) -> dict[str, np.ndarray]:
    """Each baseline's chance after every fitted session number.

    Parameters
    ----------
    fitted : dict
        :func:`fit_baselines`' regressions: name → k → fitted model.
    data : SessionCourses
        The courses to predict.

    Returns
    -------
    dict
        Baseline name → ``(n, T)`` chances, NaN where a course has ended or k was not fitted.
    """
    out = {}
    for name, by_k in fitted.items():
        chance = np.full(data.modules.shape, np.nan)
        for k, regression in by_k.items():
            rows = np.flatnonzero(data.lengths >= k)
            if len(rows):
                chance[rows, k - 1] = regression.predict_proba(_features(data, rows, k, name))[:, 1]
        out[name] = chance
    return out


def not_on_track(data: SessionCourses, curves: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Routine outcome monitoring's rule: is the score above what patients with this intake score reach by now?

    Parameters
    ----------
    data : SessionCourses
        The courses.
    curves : pandas.DataFrame
        :func:`prognosis.recovery_curves`: ``mean`` and ``p90`` by (intake, session).

    Returns
    -------
    margin : numpy.ndarray
        ``(n, T)`` the expected mean minus the recorded score: above 0 is ahead of the curve (a score, not a
        probability: it ranks patients, so it has an AUROC but no calibration). NaN where either is missing.
    alert : numpy.ndarray
        ``(n, T)`` True where the score is above the curve's 90th percentile ("not on track").
    """
    sessions = curves.index.get_level_values("session").max()
    width = min(data.modules.shape[1], sessions)
    intake = data.scores[:, 0].astype(int)
    mean = curves["mean"].unstack("session").loc[intake].to_numpy()[:, :width]
    p90 = curves["p90"].unstack("session").loc[intake].to_numpy()[:, :width]
    margin = np.full(data.modules.shape, np.nan)
    alert = np.zeros(data.modules.shape, dtype=bool)
    margin[:, :width] = mean - data.scores[:, :width]
    alert[:, :width] = data.scores[:, :width] > p90
    return margin, alert


# The truth and the whole comparison ----------------------------------------------------------------------------

def truth_by_session(params: ClinicParams, data: SessionCourses, sessions: tuple[int, ...] = SCORED_SESSIONS,
                     draws: int = 400, seed: int = 0) -> np.ndarray:
    """The truth's chance (:func:`prognosis.improvement_chances`) after each session k of every course still coming.

    Parameters
    ----------
    params : ClinicParams
        The clinic the courses came from.
    data : SessionCourses
        The courses.
    sessions : tuple of int, default=(1, …, 8)
        The session numbers k.
    draws : int, default=400
        Monte Carlo draws per prefix.
    seed : int, default=0
        The draws for session k are seeded by ``seed * 100 + k``.

    Returns
    -------
    numpy.ndarray
        ``(n, T)`` chances, NaN where a course has ended or k is not in ``sessions``.
    """
    chance = np.full(data.modules.shape, np.nan)
    for k in sessions:
        rows, modules, scores = data.prefixes(k)
        if len(rows):
            chance[rows, k - 1] = improvement_chances(params, modules, scores, draws=draws, seed=seed * 100 + k)[0]
    return chance


@dataclass
class Comparison:
    """What :func:`compare_predictors` made: the test courses, every predictor's chances and rules, and the model."""

    test: SessionCourses
    chances: dict[str, np.ndarray]
    rules: dict[str, tuple[np.ndarray, np.ndarray]]
    model: SessionOutcomeModel
    history: pd.DataFrame


def compare_predictors(courses: SessionCourses, vocab_size: int, seed: int, params: ClinicParams | None = None,
                       config: WarningConfig | None = None, truth_draws: int = 400) -> Comparison:
    """Split by patient, train the sequence model and the baselines, and predict the test patients after every
    session — with the truth and the "not on track" rule when the clinic (``params``) is known.

    Parameters
    ----------
    courses : SessionCourses
        Every patient's course.
    vocab_size : int
        ``len(vocab)``.
    seed : int
        Seeds the split, the model and the truth's draws.
    params : ClinicParams, optional
        The clinic the courses came from (simulated data); without it, no truth and no recovery curves.
    config : WarningConfig, optional
        The sequence model's settings (default: ``WarningConfig()``).
    truth_draws : int, default=400
        Monte Carlo draws per prefix for the truth.

    Returns
    -------
    Comparison
        The test courses and each predictor's ``(n, T)`` chances (``sequence model``, the baselines, ``truth``).
    """
    parts = {name: courses.subset(rows) for name, rows in split_patients(len(courses), seed).items()}
    model, history = fit_session_model(parts["train"], parts["val"], vocab_size, config or WarningConfig(), seed)
    test = parts["test"]
    chances = {"sequence model": predict_by_session(model, test),
               **baseline_chances(fit_baselines(parts["train"]), test)}
    rules = {}
    if params is not None:
        chances["truth"] = truth_by_session(params, test, draws=truth_draws, seed=seed)
        rules["not on track"] = not_on_track(test, recovery_curves(params, seed=seed))
    return Comparison(test, chances, rules, model, history)


# Checkpoints: the notebook loads the trained model and the truth instead of recomputing them ------------------------

def _data_digest(*parts: SessionCourses) -> str:
    return digest(b"".join(np.ascontiguousarray(a).tobytes() for p in parts
                           for a in (p.course_id, p.modules, np.nan_to_num(p.scores, nan=-1.0), p.improved)))


def fit_or_load_session_model(directory: str | Path, train: SessionCourses, val: SessionCourses, vocab: Vocabulary,
                              seed: int, config: WarningConfig | None = None, overwrite: bool = False
                              ) -> tuple[SessionOutcomeModel, pd.DataFrame]:
    """The sequence model saved in ``directory`` if it was trained on these courses with these settings, else train
    and save it (``model.pt``, ``model.json``, ``history.csv``, ``training.json``), as notebook 03 does for the others.

    Parameters
    ----------
    directory : str or Path
        The checkpoint folder.
    train, val : SessionCourses
        The training and validation patients.
    vocab : Vocabulary
        The module vocabulary (saved in ``model.json``).
    seed : int
        The training seed.
    config : WarningConfig, optional
        The model's settings (default ``WarningConfig()``).
    overwrite : bool, default=False
        Train again even when a checkpoint exists.

    Returns
    -------
    model : SessionOutcomeModel
        In evaluation mode.
    history : pandas.DataFrame
        The losses per epoch.

    Raises
    ------
    ValueError
        The folder holds a model trained on other courses or with other settings (pass ``overwrite=True``).
    """
    directory, config = Path(directory), config or WarningConfig()
    recipe = {"config": asdict(config), "vocabulary": list(vocab.modules), "seed": seed,
              "patients": [len(train), len(val)], "courses_sha256": _data_digest(train, val)}
    if not overwrite and (directory / "model.pt").is_file():
        saved = json.loads((directory / "training.json").read_text())
        differing = sorted(k for k in set(saved) | set(recipe) if saved.get(k) != recipe.get(k))
        if differing:
            raise ValueError(f"the checkpoint in {str(directory)!r} was trained with a different "
                             f"{', '.join(differing)}; pass overwrite=True to retrain it")
        model = SessionOutcomeModel(len(vocab), config)
        model.load_state_dict(torch.load(directory / "model.pt", map_location="cpu", weights_only=True))
        return model.eval(), pd.read_csv(directory / "history.csv", index_col="epoch")
    model, history = fit_session_model(train, val, len(vocab), config, seed)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), directory / "model.pt")
    (directory / "model.json").write_text(json.dumps({"config": asdict(config), "vocabulary": list(vocab.modules)},
                                                     indent=2) + "\n")
    history.to_csv(directory / "history.csv")
    (directory / "training.json").write_text(json.dumps(recipe, indent=2) + "\n")
    return model, history


def truth_or_load(path: str | Path, params: ClinicParams, data: SessionCourses, draws: int = 400, seed: int = 0,
                  overwrite: bool = False) -> np.ndarray:
    """:func:`truth_by_session`, saved as a CSV (``course_id``, ``session``, ``chance``) with a record of how it was
    made beside it, and read back when that record matches: the truth of a thousand patients takes half a minute.

    Parameters
    ----------
    path : str or Path
        The CSV; ``<path>.json`` records the clinic, the courses' digest, the draws and the seed.
    params : ClinicParams
        The clinic.
    data : SessionCourses
        The courses.
    draws, seed : int
        As in :func:`truth_by_session`.
    overwrite : bool, default=False
        Compute again even when the record matches.

    Returns
    -------
    numpy.ndarray
        ``(n, T)`` the truth's chance after sessions 1–8, NaN elsewhere.
    """
    path = Path(path)
    record_path = path.with_name(path.name + ".json")
    record = json.dumps({"params": asdict(params), "courses_sha256": _data_digest(data), "draws": draws,
                         "seed": seed}, indent=2, sort_keys=True, default=str) + "\n"
    chance = np.full(data.modules.shape, np.nan)
    if not overwrite and path.is_file() and record_path.is_file() and record_path.read_text() == record:
        saved = pd.read_csv(path)
        rows = pd.Index(data.course_id).get_indexer(saved["course_id"])
        chance[rows, saved["session"].to_numpy() - 1] = saved["chance"].to_numpy()
        return chance
    chance = truth_by_session(params, data, draws=draws, seed=seed)
    row, column = np.nonzero(~np.isnan(chance))
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"course_id": data.course_id[row], "session": column + 1, "chance": chance[row, column]}).to_csv(
        path, index=False)
    record_path.write_text(record)
    return chance
