"""Training: the original loop by default, improvements only when asked for.

Taught in ``03_training.ipynb``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from therapy_utils.batching import make_loader
from therapy_utils.data import Vocabulary, show_value
from therapy_utils.model import SequenceModel, build_model, next_module_loss, torch_rng
from therapy_utils.model_config import BEST_CONFIG, CNN_ENSEMBLE_CONFIG, ModelConfig, is_integer, require


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the defaults are the original script's, improvements are opt-in.

    Attributes
    ----------
    lr : float, default=1e-3
        Adam's learning rate; positive.
    weight_decay : float, default=1e-4
        Adam's L2 penalty; 0 or positive.
    batch_size : int, default=16
        Courses per batch; at least 1.
    max_epochs : int, default=100
        Most passes over the training courses; 0 returns the starting point untrained.
    early_stopping_patience : int, default=20
        Stop after this many epochs without a lower validation loss; at least 1.
    lr_patience : int, default=10
        ReduceLROnPlateau's patience, in epochs without improvement; 0 or more.
    lr_factor : float, default=0.5
        ReduceLROnPlateau's factor in (0, 1) that multiplies the learning rate.
    restore_best : bool, default=False
        True loads the best-validation weights at the end; False (the original) keeps the last epoch's.
    weighted_val_loss : bool, default=False
        True weights the validation loss per course; False (the original) averages per-batch means.
    bucketing : bool, default=False
        True uses equal-length batches built once (the fast path); False the original padding DataLoader.

    Raises
    ------
    ValueError
        When a field is out of its range; the message names the field.
    """

    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    max_epochs: int = 100
    early_stopping_patience: int = 20
    lr_patience: int = 10
    lr_factor: float = 0.5
    restore_best: bool = False  # original: keep the last epoch's weights
    weighted_val_loss: bool = False  # original: mean of per-batch means
    bucketing: bool = False  # original: a DataLoader padding each shuffled batch; True: the fast path

    def __post_init__(self) -> None:
        """Refuse, naming the field and what it allows, settings that would fail or silently do nothing."""
        require(self, "lr", self.lr > 0, "a positive learning rate")
        require(self, "weight_decay", self.weight_decay >= 0, "0 or positive")
        require(self, "batch_size", is_integer(self.batch_size) and self.batch_size >= 1, "an integer of at least 1")
        require(self, "max_epochs", is_integer(self.max_epochs) and self.max_epochs >= 0,
                "0 (no training: the starting point) or a whole number of epochs")
        require(self, "early_stopping_patience", is_integer(self.early_stopping_patience)
                and self.early_stopping_patience >= 1, "an integer of at least 1")
        require(self, "lr_patience", is_integer(self.lr_patience) and self.lr_patience >= 0,
                "0 or more whole epochs")
        require(self, "lr_factor", 0 < self.lr_factor < 1, "a factor in (0, 1) that lowers the learning rate")


# The tutorial's choice for the realistic data (03_training): larger batches train 2,000 courses quickly and
# restoring the best-validation weights stops the last, over-fitted epochs from counting.
TUTORIAL_TRAIN_CONFIG = TrainConfig(batch_size=32, restore_best=True)

# Larger batches and steps for the best model (08_model_comparison): as accurate here, and five members train in
# the time one original model takes.
BEST_TRAIN_CONFIG = TrainConfig(batch_size=64, lr=3e-3, restore_best=True)

# The fast path (benchmarks/speed.py): equal-length batches of 512 sliced from tensors built once, the validation
# loss weighted per course (batches differ in size), larger steps for the larger batches.
FAST_TRAIN_CONFIG = TrainConfig(batch_size=512, lr=3e-3, bucketing=True, weighted_val_loss=True, restore_best=True)

# The five-CNN ensemble that notebooks 09-11 load (08_model_comparison), with the best model's training settings.
CNN_ENSEMBLE: tuple[ModelConfig, TrainConfig] = (CNN_ENSEMBLE_CONFIG, BEST_TRAIN_CONFIG)

# The models the command line and the notebooks name: the original for parity, the best for accuracy.
NAMED_MODELS: dict[str, tuple[ModelConfig, TrainConfig]] = {
    "original": (ModelConfig(), TrainConfig()),
    "best": (BEST_CONFIG, BEST_TRAIN_CONFIG),
}


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and where it stopped."""

    history: pd.DataFrame
    epochs: int
    best_epoch: int
    stopped_early: bool
    seconds: float


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` picks CUDA when present, else the CPU; anything else is taken as given.

    Parameters
    ----------
    device : str, torch.device or None, default=None
        ``None`` or ``"auto"``, or any device torch accepts (``"cpu"``, ``"cuda:0"``, ...).

    Returns
    -------
    torch.device
        The device to train on.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _run_epoch(model: SequenceModel, loader: DataLoader, device: torch.device,
               optimizer: torch.optim.Optimizer | None, weighted: bool) -> float:
    """One pass; trains when an optimizer is given. Returns the mean batch loss (or per-course loss).

    The loss is the MSE, or the pinball loss for a model that predicts quantiles (11_uncertainty).
    """
    levels = model.config.quantiles
    criterion = nn.MSELoss() if not levels else (lambda predicted, target: pinball_loss(predicted, target, levels))
    total, count = 0.0, 0
    for padded, lengths, targets in loader:
        padded, targets = padded.to(device), targets.to(device)
        if optimizer is not None:
            optimizer.zero_grad()
        if model.next_head is None:
            loss = criterion(model(padded, lengths), targets)
        else:
            scores, logits = model.forward_with_next(padded, lengths)
            loss = criterion(scores, targets) + model.config.next_module_weight * next_module_loss(logits, padded)
        if optimizer is not None:
            loss.backward()
            optimizer.step()
        total += loss.item() * (len(targets) if weighted else 1)
        count += len(targets) if weighted else 1
    return total / count


def pinball_loss(predicted: torch.Tensor, target: torch.Tensor, quantiles: Sequence[float]) -> torch.Tensor:
    """Mean pinball (quantile) loss: ``max(τ (y − q), (τ − 1)(y − q))``, minimised by the τ-quantile (11_uncertainty).

    Parameters
    ----------
    predicted : torch.Tensor
        ``(batch, len(quantiles))`` predicted quantiles.
    target : torch.Tensor
        ``(batch,)`` observed outcomes.
    quantiles : sequence of float
        The level τ of each column, in (0, 1).

    Returns
    -------
    torch.Tensor
        The loss averaged over courses and levels (a scalar).
    """
    tau = torch.as_tensor(quantiles, dtype=predicted.dtype, device=predicted.device)
    error = target.unsqueeze(-1) - predicted
    return torch.maximum(tau * error, (tau - 1) * error).mean()


def train_model(model: SequenceModel, train: pd.DataFrame, val: pd.DataFrame, vocab: Vocabulary,
                config: TrainConfig, generator: torch.Generator, device: str | torch.device | None = "auto",
                progress: bool = True, log: Callable[[str], None] | None = None,
                on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Adam + MSE + ReduceLROnPlateau + early stopping, drawing randomness from ``generator`` only (03_training).

    Parameters
    ----------
    model : SequenceModel
        Trained in place on ``device``, left in eval mode (with the best epoch's weights if ``restore_best``).
    train, val : pandas.DataFrame
        Course tables with ``modules`` and ``effectiveness``, encoded by ``vocab`` (Vocabulary).
    config : TrainConfig
        The optimisation settings.
    generator : torch.Generator
        A CPU generator; every shuffle and dropout mask is drawn from it.
    device : str, torch.device or None
        "auto" (or None) takes CUDA when present, else the CPU.
    progress : bool
        Show a tqdm bar over the epochs.
    log, on_epoch : callable or None
        ``log`` receives the original script's lines (every 10th epoch, early stop); ``on_epoch`` each history row.

    Returns
    -------
    TrainResult
        History (epoch, train_loss, val_loss, lr), epochs run, best epoch, whether it stopped early, seconds.
    """
    device = select_device(device)
    model.to(device)
    loaders = [make_loader(part, vocab, config.batch_size, shuffle=shuffle, bucketing=config.bucketing)
               for part, shuffle in ((train, True), (val, False))]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=config.lr_patience,
                                                           factor=config.lr_factor)
    rows, best, start, stopped = [], _Best(), time.perf_counter(), False
    with torch_rng(generator), _cuda_rng_restored(device), \
            tqdm(total=config.max_epochs, desc="epochs", disable=not progress) as bar:
        if device.type == "cuda":  # GPU dropout draws from the CUDA generator: seeded from ours, restored after
            torch.cuda.manual_seed(int(torch.randint(0, 2**62, (1,))))
        for epoch in range(1, config.max_epochs + 1):
            rows.append(_epoch(model, loaders, device, optimizer, config, epoch))
            scheduler.step(rows[-1]["val_loss"])
            if on_epoch:
                on_epoch(rows[-1])
            bar.update(1)
            bar.set_postfix(train=f"{rows[-1]['train_loss']:.4f}", val=f"{rows[-1]['val_loss']:.4f}")
            if best.update(rows[-1]["val_loss"], epoch, model, config.restore_best) >= config.early_stopping_patience:
                stopped = True
                if log:
                    log(f"Early stopping at epoch {epoch}")
                break
            if log and epoch % 10 == 1:
                log(f"Epoch [{epoch}/{config.max_epochs}], Train Loss: {rows[-1]['train_loss']:.4f}, "
                    f"Val Loss: {rows[-1]['val_loss']:.4f}")
    if best.state is not None:
        model.load_state_dict(best.state)
    model.eval()
    return TrainResult(pd.DataFrame(rows), len(rows), best.epoch, stopped, time.perf_counter() - start)


def _epoch(model: SequenceModel, loaders: list, device: torch.device, optimizer: torch.optim.Optimizer,
           config: TrainConfig, epoch: int) -> dict:
    """One epoch: a step per shuffled training batch, then the validation loss (no gradients, dropout off)."""
    model.train()
    train_loss = _run_epoch(model, loaders[0], device, optimizer, weighted=False)
    model.eval()
    with torch.no_grad():
        val_loss = _run_epoch(model, loaders[1], device, None, config.weighted_val_loss)
    return {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "lr": optimizer.param_groups[0]["lr"]}


@dataclass
class _Best:
    """The best validation loss so far, its epoch, its weights (when kept) and the epochs waited since."""

    loss: float = float("inf")
    epoch: int = 0
    waited: int = 0
    state: dict | None = None

    def update(self, val_loss: float, epoch: int, model: SequenceModel, keep_weights: bool) -> int:
        """Record this epoch; return how many epochs have passed without a new best."""
        if val_loss < self.loss:
            self.loss, self.epoch, self.waited = val_loss, epoch, 0
            if keep_weights:
                self.state = copy.deepcopy(model.state_dict())
        else:
            self.waited += 1
        return self.waited


def check_lengths_fit(parts: dict[str, pd.DataFrame], model_config: ModelConfig) -> None:
    """Refuse, before any training, a course longer than the model's position embeddings cover (03_training).

    Without the check the first batch holding such a course fails mid-training, deep inside PyTorch.

    Parameters
    ----------
    parts : dict of str to pandas.DataFrame
        Course tables by split, each with ``modules`` (and ``course_id`` if it has one).
    model_config : ModelConfig
        The model to train; only a model with ``positional=True`` has a length limit (``max_length``).

    Raises
    ------
    ValueError
        Naming the split, the course and its length, and the ``max_length`` that would fit it.
    """
    if not model_config.positional:
        return
    for split, part in parts.items():
        lengths = part["modules"].map(len).to_numpy()
        if len(lengths) and lengths.max() > model_config.max_length:
            row = int(lengths.argmax())
            name = f"course_id {show_value(part['course_id'].iloc[row])}" if "course_id" in part else f"row {row}"
            raise ValueError(f"{split} {name} has {lengths[row]} sessions, more than ModelConfig.max_length "
                             f"{model_config.max_length} (the longest course its position embeddings cover); "
                             f"set max_length to at least {lengths.max()}")


@contextmanager
def _cuda_rng_restored(device: torch.device):
    """Keep the caller's CUDA generator state: training reseeds it for its dropout masks, then puts it back."""
    state = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    try:
        yield
    finally:
        if state is not None:
            torch.cuda.set_rng_state(state, device)


def fit_new_model(parts: dict[str, pd.DataFrame], vocab: Vocabulary, model_config: ModelConfig,
                  train_config: TrainConfig, seed: int, **train_options) -> tuple[SequenceModel, TrainResult]:
    """Initialise a model and train it from one generator seeded with ``seed`` (03_training).

    The same seed gives the same weights, shuffles and dropout masks as the original script's global seed.
    An ensemble's members are trained one after another from the same generator, each with its own early stop;
    the history then has a ``member`` column. ``train_options`` go to :func:`train_model` (device, progress, ...).

    Parameters
    ----------
    parts : dict of str to pandas.DataFrame
        Course tables by split (:func:`data.split_courses`); ``"train"`` and ``"val"`` are used.
    vocab : Vocabulary
        Encodes the modules; ``len(vocab)`` sizes the embedding table.
    model_config : ModelConfig
        Shape of the new model.
    train_config : TrainConfig
        Optimisation settings.
    seed : int
        Seeds the one generator behind the initial weights, shuffles and dropout masks.
    **train_options
        Keyword arguments of :func:`train_model`: ``device``, ``progress``, ``log``, ``on_epoch``.

    Returns
    -------
    model : SequenceModel
        The trained model, in eval mode.
    result : TrainResult
        Its history; for an ensemble, epochs and seconds summed over members, the latest best epoch, and
        ``stopped_early`` only when every member stopped early.
    """
    check_lengths_fit(parts, model_config)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(len(vocab), model_config, generator)
    if model_config.ensemble_size == 1:
        return model, train_model(model, parts["train"], parts["val"], vocab, train_config, generator, **train_options)
    results = []
    for member in model.members:  # each drew its own initial weights when the ensemble was built
        results.append(train_model(member, parts["train"], parts["val"], vocab, train_config, generator,
                                   **train_options))
    history = pd.concat([r.history.assign(member=i) for i, r in enumerate(results)], ignore_index=True)
    return model.eval(), TrainResult(history, sum(r.epochs for r in results), max(r.best_epoch for r in results),
                                     all(r.stopped_early for r in results), sum(r.seconds for r in results))
