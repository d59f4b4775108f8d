"""Checkpoints: save and load a trained model, and train one only when no matching checkpoint exists.

A checkpoint is a folder: ``model.pt`` (the state dict), ``model.json`` (the config and the vocabulary),
``history.csv`` (the per-epoch losses) and ``training.json`` (the *recipe*: everything that determines the weights).
:func:`fit_or_load` loads the folder only when its recipe is the one asked for, so weights made from other data or
settings are refused, never returned silently. Taught in ``03_training.ipynb``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd
import torch

from therapy_utils.data import Vocabulary, split_courses
from therapy_utils.model import ModelConfig, SequenceModel, build_model
from therapy_utils.train import TrainConfig, TrainResult, fit_new_model

CHECKPOINT_FORMAT = 1


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: no half-written checkpoint."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(model: SequenceModel, vocab: Vocabulary, directory: str | Path) -> Path:
    """Save ``model.pt`` (state dict) and ``model.json`` (config + vocabulary) in ``directory`` (03_training).

    Parameters
    ----------
    model : SequenceModel
        Any model of the series (it needs a ``config``); its weights are saved on the CPU.
    vocab : Vocabulary
        The vocabulary the model was trained with, saved beside the config.
    directory : str or Path
        Folder to write into; created if missing. Each file is written atomically.

    Returns
    -------
    Path
        ``directory``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format": CHECKPOINT_FORMAT, "config": asdict(model.config), "vocabulary": list(vocab.modules)}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_write(directory / "model.pt", lambda tmp: torch.save(state, tmp))
    _atomic_write(directory / "model.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
    return directory


def _read_meta(path: Path) -> tuple[ModelConfig, Vocabulary]:
    """Config and vocabulary from the JSON beside the weights, checked field by field."""
    try:
        meta = json.loads(path.read_text())
        config_fields = {f.name for f in fields(ModelConfig)}
        unknown = set(meta["config"]) - config_fields
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}")
        return ModelConfig(**meta["config"]), Vocabulary(tuple(meta["vocabulary"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not a therapy_utils checkpoint description: {err}") from None


def load_checkpoint(directory: str | Path, expected_vocab: Vocabulary | None = None,
                    device: str | torch.device = "cpu") -> tuple[SequenceModel, Vocabulary]:
    """Rebuild a saved model; refuse files that are corrupt, foreign, or for another vocabulary (03_training).

    Parameters
    ----------
    directory : str or Path
        Folder holding ``model.pt`` and ``model.json`` (:func:`save_checkpoint`).
    expected_vocab : Vocabulary or None, default=None
        When given, the checkpoint's vocabulary must equal it.
    device : str or torch.device, default="cpu"
        Where the rebuilt model is placed.

    Returns
    -------
    model : SequenceModel
        The rebuilt model (of the class its config names), in evaluation mode.
    vocab : Vocabulary
        The vocabulary saved with it.

    Raises
    ------
    ValueError
        When the description or weights are unreadable, do not match the config, or the vocabulary differs from
        ``expected_vocab``. (A missing file raises FileNotFoundError.)
    """
    directory = Path(directory)
    weights, meta_path = directory / "model.pt", directory / "model.json"
    for path in (weights, meta_path):
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint file {str(path)!r}")
    config, vocab = _read_meta(meta_path)
    if expected_vocab is not None and expected_vocab != vocab:
        raise ValueError(f"checkpoint vocabulary {list(vocab.modules)} does not match the data's "
                         f"{list(expected_vocab.modules)}")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged or foreign file
        raise ValueError(f"{str(weights)!r} is not a readable checkpoint: {type(err).__name__}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(weights)!r} holds a {type(state).__name__}, not a state dict of tensors")
    model = build_model(len(vocab), config, torch.Generator().manual_seed(0))  # every weight is then overwritten
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise ValueError(f"{str(weights)!r} does not match its config {asdict(config)}: {first}") from None
    return model.to(device).eval(), vocab


def digest(text: str | bytes) -> str:
    """SHA-256 of text or bytes: a fingerprint of data or weights for a recipe's description."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def weights_digest(model: torch.nn.Module) -> str:
    """A fingerprint of a model's weights, so a recipe that starts from a trained model names which one."""
    state = model.state_dict()
    return digest(b"".join(name.encode() + state[name].detach().cpu().contiguous().numpy().tobytes()
                            for name in sorted(state)))


@dataclass(frozen=True)
class Recipe:
    """What determines a trained model, and how to train it: :func:`fit_or_load`'s one argument besides the folder.

    ``description`` is saved as ``training.json`` beside the weights; a folder whose description differs is refused.
    ``fit(**train_options)`` trains the model (``device``, ``progress``, ...) and returns ``(model, TrainResult)``.
    """

    description: dict
    vocab: Vocabulary
    fit: Callable[..., tuple[SequenceModel, TrainResult]]


def training_recipe(courses: pd.DataFrame, model_config: ModelConfig, train_config: TrainConfig,
                    seed: int) -> Recipe:
    """The recipe of a model trained on ``courses`` from ``seed`` (03_training).

    Its description holds the two configs, the seed and a SHA-256 digest of the course table, so that loading can
    refuse weights made from other data or settings; the vocabulary is the modules of ``courses``.

    Parameters
    ----------
    courses : pandas.DataFrame
        Course table (``modules``, ``effectiveness``, optionally ``split``); it defines the vocabulary and the split.
    model_config : ModelConfig
        Shape of the model.
    train_config : TrainConfig
        Optimisation settings.
    seed : int
        Training seed (:func:`train.fit_new_model`).

    Returns
    -------
    Recipe
        Its ``fit`` calls :func:`train.fit_new_model` on the split courses.
    """
    description = {"model_config": asdict(model_config), "train_config": asdict(train_config), "seed": seed,
                   "courses": len(courses), "courses_sha256": digest(courses.to_csv(index=False))}
    vocab = Vocabulary.from_courses(courses["modules"])

    def fit(**train_options) -> tuple[SequenceModel, TrainResult]:
        return fit_new_model(split_courses(courses), vocab, model_config, train_config, seed, **train_options)

    return Recipe(json.loads(json.dumps(description)), vocab, fit)  # tuples become lists, as in the saved file


def _refuse_stale(directory: Path, description: dict) -> None:
    """Raise, naming what differs, when the checkpoint in ``directory`` was made by another recipe."""
    path = directory / "training.json"
    if not path.is_file():
        raise ValueError(f"the checkpoint in {str(directory)!r} does not say how it was trained (no training.json); "
                         "pass overwrite=True to retrain it")
    saved = json.loads(path.read_text())
    # a recipe saved before a ModelConfig field existed meant that field's default
    config_fields = {f.name for f in fields(ModelConfig)}
    if isinstance(saved.get("model_config"), dict) and set(saved["model_config"]) < config_fields:
        saved["model_config"] = json.loads(json.dumps(asdict(ModelConfig(**saved["model_config"]))))
    differing = sorted(key for key in set(description) | set(saved) if saved.get(key) != description.get(key))
    if differing:
        raise ValueError(f"the checkpoint in {str(directory)!r} was trained with a different {', '.join(differing)} "
                         "than asked for; pass overwrite=True to retrain it")


def fit_or_load(directory: str | Path, recipe: Recipe, overwrite: bool = False,
                **train_options) -> tuple[SequenceModel, Vocabulary, pd.DataFrame]:
    """The checkpoint in ``directory`` if it was made by ``recipe``, else ``recipe``'s model, trained and saved there.

    Training is deterministic on one machine; on another CPU the float rounding differs in the last bits and a long
    training can end elsewhere, which is why the notebooks load committed checkpoints (03_training).

    Parameters
    ----------
    directory : str or Path
        Folder of the checkpoint (``model.pt``, ``model.json``, ``history.csv``, ``training.json``).
    recipe : Recipe
        What determines the weights (:func:`training_recipe`, or the transfer experiment's recipes).
    overwrite : bool, default=False
        Train again even if a checkpoint exists.
    **train_options
        Passed to ``recipe.fit`` when it trains: ``device`` (default "cpu"), ``progress``, ``log``, ``on_epoch``.

    Returns
    -------
    model : SequenceModel
        The loaded or newly trained model, on the CPU, in evaluation mode.
    vocab : Vocabulary
        Its vocabulary.
    history : pandas.DataFrame
        Per-epoch history (``epoch``, ``train_loss``, ``val_loss``, ``lr``; ``member`` for an ensemble).

    Raises
    ------
    ValueError
        When the saved checkpoint has no ``training.json``, records another recipe, or has another vocabulary.
    """
    directory = Path(directory)
    if not overwrite and (directory / "model.pt").is_file():
        _refuse_stale(directory, recipe.description)
        model, vocab = load_checkpoint(directory, expected_vocab=recipe.vocab)
        return model, vocab, pd.read_csv(directory / "history.csv")
    model, result = recipe.fit(**{"device": "cpu", **train_options})
    save_checkpoint(model, recipe.vocab, directory)
    result.history.to_csv(directory / "history.csv", index=False)
    (directory / "training.json").write_text(json.dumps(recipe.description, indent=2) + "\n")
    return model.cpu().eval(), recipe.vocab, result.history
