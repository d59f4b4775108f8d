"""Notebook 07's transfer-learning experiment: its set-up, its five starting points and their checkpoints.

Shared by ``07_transfer_learning.ipynb``, ``benchmarks/transfer.py`` and the checkpoint registry
(:mod:`therapy_utils.course.checkpoints`). A course module: the library knows nothing of it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass

import pandas as pd
import torch

from therapy_utils.checkpoint import Recipe, digest, weights_digest
from therapy_utils.data import Vocabulary
from therapy_utils.embeddings import embedding_table, use_pretrained_embeddings
from therapy_utils.model import ModelConfig, SequenceModel, build_model
from therapy_utils.simulate import SimulatorParams, preset_params, simulate_courses
from therapy_utils.train import TrainConfig, TrainResult, train_model

# Small initial embeddings, as in MULTITASK_CONFIG: training, not the random start, shapes the vectors we reuse.
TRANSFER_MODEL_CONFIG = ModelConfig(embedding_init_std=0.05)


@dataclass(frozen=True)
class TransferSetup:
    """The transfer-learning experiment of 07_transfer_learning, shared with ``benchmarks/transfer.py``.

    Source: a large realistic population. Target: a related population whose modules work differently
    (``target_overrides`` of the realistic preset), from which only a few courses are available.
    """

    source_courses: int = 5000
    source_seed: int = 100
    target_overrides: tuple[tuple[str, object], ...] = (
        ("module_effects", (("A", 0.0), ("F", 0.06), ("C", 0.0), ("N", 0.04), ("O", 0.04))),
        ("motif_boost", 0.08))
    target_pool: int = 3000
    target_test: int = 1000
    target_seed: int = 200
    sizes: tuple[int, ...] = (50, 100, 200, 400, 800, 1600)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    train_seed: int = 0
    model_config: ModelConfig = TRANSFER_MODEL_CONFIG
    pretrain_config: TrainConfig = TrainConfig(batch_size=64, restore_best=True)
    train_config: TrainConfig = TrainConfig(restore_best=True)
    # a smaller step keeps fine-tuning near the pre-trained weights instead of undoing them in the first epochs
    fine_tune_config: TrainConfig = TrainConfig(lr=3e-4, restore_best=True)

    def source(self) -> pd.DataFrame:
        """The large population to pre-train on."""
        return simulate_courses(preset_params("realistic"), self.source_courses, self.source_seed)

    def target_params(self) -> SimulatorParams:
        """The related population: the realistic preset with ``target_overrides``."""
        return preset_params("realistic", **dict(self.target_overrides))

    def train_config_for(self, start: str) -> TrainConfig:
        """The fine-tuned model and its control, a random start at the same step, take smaller steps."""
        return self.fine_tune_config if start in ("fine-tuned model", "random, small steps") else self.train_config

    def target(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A pool to draw the few training courses from, and a fixed test table."""
        courses = simulate_courses(self.target_params(), self.target_pool + self.target_test, self.target_seed)
        pool, test = courses.iloc[:self.target_pool], courses.iloc[self.target_pool:]
        return pool.reset_index(drop=True), test.reset_index(drop=True)


TRANSFER_SETUP = TransferSetup()


# "random, small steps" is the fine-tuned model's control: a random start trained at the fine-tuning learning rate,
# so that fine-tuned model vs this start changes the starting weights only.
TRANSFER_STARTS: tuple[str, ...] = ("random", "frozen embeddings", "fine-tuned embeddings", "fine-tuned model",
                                    "random, small steps")


def fit_transfer(start: str, parts: dict[str, pd.DataFrame], vocab: Vocabulary, train_config: TrainConfig, seed: int,
                 pretrained: SequenceModel, embeddings: pd.DataFrame | None = None,
                 **train_options) -> tuple[SequenceModel, TrainResult]:
    """Learn a target task from one of :data:`TRANSFER_STARTS` (07_transfer_learning).

    ``random`` and ``random, small steps``: a fresh model of ``pretrained``'s shape (the learning rate is
    ``train_config``'s); ``frozen``/``fine-tuned embeddings``: fresh LSTM and head on top of ``embeddings`` (a table
    read from a file; by default ``pretrained``'s own), kept fixed or trained; ``fine-tuned model``: every
    pre-trained weight as the starting point. ``pretrained`` is not changed.

    Parameters
    ----------
    start : str
        One of :data:`TRANSFER_STARTS`: "random", "frozen embeddings", "fine-tuned embeddings", "fine-tuned model",
        "random, small steps".
    parts : dict of str to pandas.DataFrame
        The target's course tables by split; ``"train"`` and ``"val"`` are used.
    vocab : Vocabulary
        The vocabulary shared by the source and target courses.
    train_config : TrainConfig
        Optimisation settings (:meth:`TransferSetup.train_config_for` picks one per start).
    seed : int
        Seeds the generator for the fresh weights, shuffles and dropout masks.
    pretrained : SequenceModel
        The model trained on the source population; its config shapes the new model.
    embeddings : pandas.DataFrame or None, default=None
        Embedding table, one row per module (``embeddings.embedding_table``); None takes ``pretrained``'s.
    **train_options
        Keyword arguments of :func:`train_model`: ``device``, ``progress``, ``log``, ``on_epoch``.

    Returns
    -------
    model : SequenceModel
        The model trained on the target task, in eval mode.
    result : TrainResult
        Its training history.

    Raises
    ------
    ValueError
        When ``start`` is not one of :data:`TRANSFER_STARTS`.
    """
    if start not in TRANSFER_STARTS:
        raise ValueError(f"unknown starting point {start!r}; choose one of {list(TRANSFER_STARTS)}")
    generator = torch.Generator().manual_seed(seed)
    if start == "fine-tuned model":
        model = copy.deepcopy(pretrained).cpu()
    else:
        model = build_model(len(vocab), pretrained.config, generator)
    if start in ("frozen embeddings", "fine-tuned embeddings"):
        table = embedding_table(pretrained, vocab) if embeddings is None else embeddings
        use_pretrained_embeddings(model, vocab, table, freeze=start == "frozen embeddings")
    result = train_model(model, parts["train"], parts["val"], vocab, train_config, generator, **train_options)
    return model, result


def transfer_recipe(start: str, parts: dict[str, pd.DataFrame], vocab: Vocabulary, train_config: TrainConfig,
                    seed: int, pretrained: SequenceModel, embeddings: pd.DataFrame) -> Recipe:
    """The :class:`~therapy_utils.checkpoint.Recipe` of :func:`fit_transfer` (07_transfer_learning).

    Its description names the starting point, the training config, the seed, the training and validation courses
    and fingerprints of the pre-trained weights and the embedding table, so a checkpoint made from another
    pre-trained model is refused.

    Parameters
    ----------
    start : str
        One of :data:`TRANSFER_STARTS`.
    parts : dict of str to pandas.DataFrame
        The target's course tables by split; ``"train"`` and ``"val"`` are used and fingerprinted.
    vocab : Vocabulary
        The vocabulary shared by the source and target courses.
    train_config : TrainConfig
        Optimisation settings.
    seed : int
        Training seed (:func:`fit_transfer`).
    pretrained : SequenceModel
        The model trained on the source population; fingerprinted, not changed.
    embeddings : pandas.DataFrame
        Embedding table, one row per module; required here, since its fingerprint is part of the recipe.

    Returns
    -------
    Recipe
        Its ``fit`` calls :func:`fit_transfer`.

    Raises
    ------
    ValueError
        When ``start`` is not one of :data:`TRANSFER_STARTS`.
    """
    if start not in TRANSFER_STARTS:
        raise ValueError(f"unknown starting point {start!r}; choose one of {list(TRANSFER_STARTS)}")
    description = {"start": start, "train_config": asdict(train_config), "seed": seed,
                   **{f"{name}_sha256": digest(parts[name].to_csv(index=False)) for name in ("train", "val")},
                   "pretrained_sha256": weights_digest(pretrained),
                   "embeddings_sha256": digest(embeddings.to_numpy(dtype="float32").tobytes()
                                               + ",".join(map(str, embeddings.index)).encode())}

    def fit(**train_options) -> tuple[SequenceModel, TrainResult]:
        return fit_transfer(start, parts, vocab, train_config, seed, pretrained, embeddings, **train_options)

    return Recipe(json.loads(json.dumps(description)), vocab, fit)
