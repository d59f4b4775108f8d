"""Training: the original loop by default, improvements only when asked for.

Taught in ``03_training.ipynb``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from therapy_utils.data import CourseDataset, Vocabulary, collate_courses, split_courses
from therapy_utils.model import (
    ModelConfig,
    TherapySequenceModel,
    build_model,
    load_checkpoint,
    next_module_loss,
    save_checkpoint,
    torch_rng,
)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the defaults are the original script's, improvements are opt-in."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    max_epochs: int = 100
    early_stopping_patience: int = 20
    lr_patience: int = 10
    lr_factor: float = 0.5
    restore_best: bool = False  # original: keep the last epoch's weights
    weighted_val_loss: bool = False  # original: mean of per-batch means


# The tutorial's choice for the realistic data (03_training): larger batches train 2,000 courses quickly and
# restoring the best-validation weights stops the last, over-fitted epochs from counting.
TUTORIAL_TRAIN_CONFIG = TrainConfig(batch_size=32, restore_best=True)


@dataclass
class TrainResult:
    """What a training run produced: per-epoch history and where it stopped."""

    history: pd.DataFrame
    epochs: int
    best_epoch: int
    stopped_early: bool
    seconds: float


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` picks CUDA when present, else the CPU; anything else is taken as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_loader(courses: pd.DataFrame, vocab: Vocabulary, batch_size: int, shuffle: bool) -> DataLoader:
    """A DataLoader over a course table that pads each batch (02_embedding_lstm_model)."""
    return DataLoader(CourseDataset(courses, vocab), batch_size=batch_size, shuffle=shuffle,
                      collate_fn=collate_courses)


def _run_epoch(model: TherapySequenceModel, loader: DataLoader, device: torch.device,
               optimizer: torch.optim.Optimizer | None, weighted: bool) -> float:
    """One pass; trains when an optimizer is given. Returns the mean batch loss (or per-course loss)."""
    criterion = nn.MSELoss()
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


def train_model(model: TherapySequenceModel, train: pd.DataFrame, val: pd.DataFrame, vocab: Vocabulary,
                config: TrainConfig, generator: torch.Generator, device: str | torch.device | None = "auto",
                progress: bool = True, log: Callable[[str], None] | None = None,
                on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Adam + MSE + ReduceLROnPlateau + early stopping, drawing randomness from ``generator`` only.

    ``log`` receives the original script's progress lines (every 10th epoch, early stop);
    ``on_epoch`` receives each history row (a widget's progress bar listens there).
    Taught in 03_training.
    """
    device = select_device(device)
    model.to(device)
    train_loader = make_loader(train, vocab, config.batch_size, shuffle=True)
    val_loader = make_loader(val, vocab, config.batch_size, shuffle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=config.lr_patience,
                                                           factor=config.lr_factor)
    rows, best_loss, best_epoch, waited, best_state = [], float("inf"), 0, 0, None
    start, stopped = time.perf_counter(), False
    with torch_rng(generator), tqdm(total=config.max_epochs, desc="epochs", disable=not progress) as bar:
        if device.type == "cuda":
            torch.cuda.manual_seed(int(torch.randint(0, 2**62, (1,))))
        for epoch in range(config.max_epochs):
            model.train()
            train_loss = _run_epoch(model, train_loader, device, optimizer, weighted=False)
            model.eval()
            with torch.no_grad():
                val_loss = _run_epoch(model, val_loader, device, None, config.weighted_val_loss)
            rows.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                         "lr": optimizer.param_groups[0]["lr"]})
            scheduler.step(val_loss)
            if on_epoch:
                on_epoch(rows[-1])
            bar.update(1)
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
            if val_loss < best_loss:
                best_loss, best_epoch, waited = val_loss, epoch + 1, 0
                if config.restore_best:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
            if waited >= config.early_stopping_patience:
                stopped = True
                if log:
                    log(f"Early stopping at epoch {epoch + 1}")
                break
            if log and epoch % 10 == 0:
                log(f"Epoch [{epoch + 1}/{config.max_epochs}], Train Loss: {train_loss:.4f}, Val Loss: {val_loss:.4f}")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(pd.DataFrame(rows), len(rows), best_epoch, stopped, time.perf_counter() - start)


def fit_new_model(parts: dict[str, pd.DataFrame], vocab: Vocabulary, model_config: ModelConfig,
                  train_config: TrainConfig, seed: int, **train_options) -> tuple[TherapySequenceModel, TrainResult]:
    """Initialise a model and train it from one generator seeded with ``seed`` (03_training).

    The same seed gives the same weights, shuffles and dropout masks as the original script's global seed.
    ``train_options`` go to :func:`train_model` (device, progress, log, on_epoch).
    """
    generator = torch.Generator().manual_seed(seed)
    model = build_model(len(vocab), model_config, generator)
    result = train_model(model, parts["train"], parts["val"], vocab, train_config, generator, **train_options)
    return model, result


def fit_or_load(courses: pd.DataFrame, directory: str | Path, model_config: ModelConfig, train_config: TrainConfig,
                seed: int, overwrite: bool = False, progress: bool = True,
                device: str | torch.device | None = "cpu") -> tuple[TherapySequenceModel, Vocabulary, pd.DataFrame]:
    """Load the checkpoint in ``directory`` if it exists, else train on ``courses`` and save it (03_training).

    Returns the model, its vocabulary and the per-epoch history (saved beside the weights).
    Training is deterministic, so both branches give the same model.
    """
    directory = Path(directory)
    vocab = Vocabulary.from_courses(courses["modules"])
    if not overwrite and (directory / "model.pt").is_file():
        model, vocab = load_checkpoint(directory, expected_vocab=vocab)
        return model, vocab, pd.read_csv(directory / "history.csv")
    model, result = fit_new_model(split_courses(courses), vocab, model_config, train_config, seed, device=device,
                                  progress=progress)
    save_checkpoint(model, vocab, directory)
    result.history.to_csv(directory / "history.csv", index=False)
    return model.cpu(), vocab, result.history
