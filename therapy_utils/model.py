"""The embedding + LSTM model, its configuration, and checkpoints.

One :class:`ModelConfig` drives every model; every model maps ``(padded indices, lengths)``
to one predicted effectiveness per course. Taught in ``02_embedding_lstm_model.ipynb``.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from therapy_utils.data import Vocabulary

CHECKPOINT_FORMAT = 1


ARCHITECTURES: tuple[str, ...] = ("lstm", "gru", "cnn", "transformer")
POOLINGS: tuple[str, ...] = ("last", "mean", "sum", "max", "attention")


TRANSFORMER_HEADS = 4  # attention heads of the Transformer encoder; embedding_dim must be a multiple of it


def require(config: object, name: str, condition: bool, allowed: str) -> None:
    """Raise a ValueError naming the config, the field, its value and what it allows, unless ``condition``."""
    if not condition:
        raise ValueError(f"{type(config).__name__}.{name} must be {allowed}, got {getattr(config, name)!r}")


def is_integer(value: object) -> bool:
    """True for an int (numpy's too), not a bool or a float (2.5, 3.0): widths and counts are whole numbers."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelConfig:
    """Model shape; the defaults are the original script's (02_embedding_lstm_model).

    Attributes
    ----------
    embedding_dim : int, default=32
        Length of each module's embedding vector; a multiple of 4 for the Transformer.
    hidden_dim : int, default=64
        Width of the encoder: LSTM/GRU state, CNN channels or Transformer feed-forward layer.
    num_layers : int, default=1
        Stacked encoder layers (recurrent or Transformer).
    dropout : float, default=0.2
        Dropout probability in [0, 1): before the head, between stacked recurrent layers, in the Transformer.
    next_module_weight : float, default=0.0
        > 0 adds a next-module head, trained jointly with this loss weight (original LSTM only).
    embedding_init_std : float or None, default=None
        Standard deviation of the initial embeddings; None keeps PyTorch's N(0, 1).
    architecture : str, default="lstm"
        Encoder: "lstm", "gru", "cnn" or "transformer".
    bidirectional : bool, default=False
        Recurrent encoders read each course both ways.
    reverse : bool, default=False
        Read each course from its last module to its first.
    pooling : str, default="last"
        "+"-joined summaries of the encoder's outputs: "last" (recurrent only), "mean", "sum", "max", "attention".
    positional : bool, default=False
        Add learned position embeddings to the module embeddings.
    kernel_size : int, default=3
        CNN only: how many neighbouring modules one filter sees; odd.
    head_hidden : int, default=0
        0 for a linear head; > 0 for one hidden ReLU layer of this width.
    max_length : int, default=64
        Longest course the position embeddings cover.
    ensemble_size : int, default=1
        > 1 averages the predictions of that many models trained from different starts.
    quantiles : tuple of float, default=()
        Empty: one output, the mean, trained with MSE. Otherwise one output per quantile level (increasing, each in
        (0, 1)), trained with the pinball loss (11_uncertainty); not for the original LSTM class.
    position_init_std : float or None, default=None
        Standard deviation of the initial position embeddings; None keeps PyTorch's N(0, 1). 0 starts every
        position equal, so the network begins order-blind and learns positions only where the data reward them.
    wide : bool, default=False
        Add a linear part on each course's module counts and length to the sequence network's output, trained
        jointly (wide & deep, Cheng et al. 2016; 08_model_comparison): the order-blind signal that a ridge on counts
        learns from few courses, so the network only has to learn what order adds.

    Raises
    ------
    ValueError
        When a field is out of its range or the combination cannot be built; the message names the field.
    """

    embedding_dim: int = 32
    hidden_dim: int = 64
    num_layers: int = 1
    dropout: float = 0.2
    # > 0 adds a next-module head on the same embeddings and LSTM, trained jointly with this loss weight
    next_module_weight: float = 0.0
    # None keeps PyTorch's N(0, 1) embedding init (the original's); a small value lets training, not the random
    # start, decide which modules end up close together
    embedding_init_std: float | None = None
    # Anything below away from its default builds a SequenceRegressor (08_model_comparison) instead of the
    # original TherapySequenceModel.
    architecture: str = "lstm"  # "lstm", "gru", "cnn" or "transformer"
    bidirectional: bool = False  # recurrent encoders: read both ways
    reverse: bool = False  # read each course from its last module to its first
    pooling: str = "last"  # "+"-joined summaries of the encoder's outputs: last, mean, sum, max, attention
    positional: bool = False  # learned position embeddings added to the module embeddings
    kernel_size: int = 3  # cnn: how many neighbouring modules one filter sees
    head_hidden: int = 0  # 0: a linear head (the original's); > 0: one hidden ReLU layer of this width
    max_length: int = 64  # position embeddings cover courses up to this length
    ensemble_size: int = 1  # > 1: that many models trained from different starts, their predictions averaged
    quantiles: tuple[float, ...] = ()  # (): predict the mean (MSE); else these quantiles (pinball loss)
    position_init_std: float | None = None  # None: PyTorch's N(0, 1); 0: positions start equal (order-blind)
    wide: bool = False  # True: + a linear part on module counts and length (wide & deep)

    def __post_init__(self) -> None:
        """Refuse, naming the field and what it allows, values that would otherwise fail deep inside PyTorch."""
        for name in ("embedding_dim", "hidden_dim", "num_layers", "kernel_size", "max_length", "ensemble_size"):
            value = getattr(self, name)
            require(self, name, is_integer(value) and value >= 1, "an integer of at least 1")
        require(self, "head_hidden", is_integer(self.head_hidden) and self.head_hidden >= 0,
                "0 (a linear head) or a positive integer width")
        require(self, "dropout", 0 <= self.dropout < 1, "a probability in [0, 1)")
        require(self, "next_module_weight", self.next_module_weight >= 0, "0 (no head) or a positive weight")
        require(self, "embedding_init_std", self.embedding_init_std is None or self.embedding_init_std > 0,
                 "None (PyTorch's init) or a positive standard deviation")
        require(self, "position_init_std", self.position_init_std is None or self.position_init_std >= 0,
                 "None (PyTorch's init) or a standard deviation of 0 or more")
        require(self, "position_init_std", self.position_init_std is None or self.positional,
                 "None unless positional=True (there are no position embeddings to start)")
        if self.architecture == "cnn":
            require(self, "kernel_size", self.kernel_size % 2 == 1,
                     "an odd width for the CNN (an even one makes its output one step longer than the course)")
        if self.architecture == "transformer":
            require(self, "embedding_dim", self.embedding_dim % TRANSFORMER_HEADS == 0,
                     f"a multiple of the Transformer's {TRANSFORMER_HEADS} attention heads")
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))  # a JSON list → tuple
        require(self, "quantiles", all(0 < q < 1 for q in self.quantiles)
                and all(a < b for a, b in pairwise(self.quantiles)), "increasing levels, each in (0, 1)")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {list(ARCHITECTURES)}")
        unknown = [p for p in self.pooling.split("+") if p not in POOLINGS]
        if unknown:
            raise ValueError(f"unknown pooling {unknown[0]!r} in {self.pooling!r}; combine {list(POOLINGS)} with '+'")
        if "last" in self.pooling.split("+") and self.architecture not in ("lstm", "gru"):
            raise ValueError(f"pooling 'last' needs a recurrent architecture, not {self.architecture!r}")

    @property
    def is_original(self) -> bool:
        """True when the config describes the original embedding → LSTM → last state → linear model."""
        return (self.architecture, self.bidirectional, self.reverse, self.pooling, self.positional,
                self.head_hidden, self.ensemble_size, self.quantiles, self.wide) == (
                    "lstm", False, False, "last", False, 0, 1, (), False)


# The tutorial's model for "what the embeddings tell you" (05_module_embeddings): a next-module head trained
# jointly, and a small embedding init so that training, not the random start, shapes the vectors.
MULTITASK_CONFIG = ModelConfig(next_module_weight=1.0, embedding_init_std=0.05)
# Notebook 05's two missing arms: each changes one of the two things MULTITASK_CONFIG changes, so the head and the
# small start can be told apart (the tied output layer belongs to the head: without a head there is nothing to tie).
SMALL_START_CONFIG = ModelConfig(embedding_init_std=0.05)
HEAD_DEFAULT_START_CONFIG = ModelConfig(next_module_weight=1.0)

# The five-CNN ensemble (08_model_comparison): a 1-D CNN whose filters see three neighbouring modules and their
# positions, summed over the course (so counts and length carry through), a small hidden layer, and five such models
# averaged. Notebooks 09-11 optimise, explain and wrap this one.
CNN_ENSEMBLE_CONFIG = ModelConfig(architecture="cnn", positional=True, pooling="sum", embedding_dim=16, hidden_dim=32,
                                  head_hidden=32, ensemble_size=5)

# The winner of benchmarks/accuracy.py's selection, chosen on validation scores of its selection seeds only
# (08_model_comparison): the same ensemble with position embeddings that start small, so each network begins nearly
# blind to where a module sits and learns positions only where the data reward them.
BEST_CONFIG = replace(CNN_ENSEMBLE_CONFIG, position_init_std=0.1)


@runtime_checkable
class SequenceModel(Protocol):
    """What every model of the series offers, whatever its class (one interface instead of ``hasattr`` checks).

    ``forward(padded, lengths)`` gives one score per course; ``embedding_layers()`` the module embedding tables it
    reads — one for a single model, one per member for an ensemble, so "the" embedding table exists only when the
    list has one entry (``embeddings.embedding_table`` and the command line's similarity report need that). The
    next-module head is optional: only :class:`TherapySequenceModel` with ``next_module_weight > 0`` has
    ``forward_with_next``. Built by :func:`build_model` (02_embedding_lstm_model, 08_model_comparison).
    """

    config: ModelConfig
    next_head: nn.Module | None  # the next-module head, or None (every class but the multitask LSTM)

    def forward(self, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor: ...

    def embedding_layers(self) -> list[nn.Embedding]: ...


def module_embedding(model: SequenceModel) -> nn.Embedding:
    """The model's one module embedding table, or a clear error for a model that has several (an ensemble).

    Parameters
    ----------
    model : SequenceModel
        Any model of the series.

    Returns
    -------
    torch.nn.Embedding
        Its module embedding table (row 0: the padding index).

    Raises
    ------
    ValueError
        If the model reads more than one table (an ensemble has one per member): pick a member, e.g.
        ``model.members[0]``, or work with :meth:`SequenceModel.embedding_layers`.
    """
    layers = model.embedding_layers()
    if len(layers) != 1:
        raise ValueError(f"this {type(model).__name__} has {len(layers)} module embedding tables (one per member), "
                         "not one; pick a member (model.members[0]) or use embedding_layers()")
    return layers[0]


PADDING_INDEX = 0  # the vocabulary's padding index (see data.Vocabulary)


def module_table(vocab_size: int, embedding_dim: int) -> nn.Embedding:
    """The module embedding table, its padding row fixed at zero (02_embedding_lstm_model, 10_explaining_predictions).

    ``padding_idx`` starts that row at zero and keeps its gradient at zero, so neither training nor weight decay
    moves it: padding then means "no module" (the baseline integrated gradients start from), not whatever vector an
    optimiser left there. The row is drawn and then zeroed, so every other weight is drawn as before, and no model
    reads it (packed LSTMs skip padding, the others mask it). Position embeddings have no such row.

    Parameters
    ----------
    vocab_size : int
        Rows: ``len(vocab)``, the modules plus the padding index 0.
    embedding_dim : int
        Columns: the size of each module's vector.

    Returns
    -------
    torch.nn.Embedding
        With ``padding_idx=PADDING_INDEX``.
    """
    return nn.Embedding(vocab_size, embedding_dim, padding_idx=PADDING_INDEX)


def restart_module_table(table: nn.Embedding, std: float) -> None:
    """Redraw a module table from N(0, std²) (``ModelConfig.embedding_init_std``) and zero its padding row again."""
    nn.init.normal_(table.weight, std=std)
    with torch.no_grad():
        table.weight[PADDING_INDEX].zero_()


class TherapySequenceModel(nn.Module):
    """Embedding → LSTM (packed) → dropout → linear on the last hidden state."""

    def __init__(self, vocab_size: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = module_table(vocab_size, config.embedding_dim)
        self.lstm = nn.LSTM(config.embedding_dim, config.hidden_dim, config.num_layers, batch_first=True,
                            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(config.hidden_dim, 1)
        # Created last, so the original configuration's weights are drawn exactly as before. The head maps a
        # state into embedding space and scores it against the embedding table itself (tied weights), so the
        # next-module objective shapes the very vectors we later cluster.
        self.next_head = nn.Linear(config.hidden_dim, config.embedding_dim) if config.next_module_weight > 0 else None
        if config.embedding_init_std is not None:
            restart_module_table(self.embedding, config.embedding_init_std)

    def _encode(self, padded: torch.Tensor, lengths: torch.Tensor,
                steps: bool = False) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Run the LSTM over the batch: per-step outputs (when ``steps``) and the last hidden state."""
        outputs, (hidden, _) = run_recurrent(self.lstm, self.embedding(padded), lengths, steps)
        return outputs, hidden[-1]

    def embedding_layers(self) -> list[nn.Embedding]:
        """The one module embedding table (see :class:`SequenceModel`)."""
        return [self.embedding]

    def forward(self, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Predict one score per course; packing makes padding invisible to the LSTM."""
        _, last = self._encode(padded, lengths)
        return self.fc(self.dropout(last)).squeeze(-1)

    def forward_with_next(self, padded: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and, at every position, logits over the module that comes next (05_module_embeddings).

        The logits' last axis has one column per real module, index ``i`` for vocabulary index ``i + 1``: padding
        is never a next module, so its row of the tied table is no class (and stays zero, see :func:`module_table`).
        """
        if self.next_head is None:
            raise ValueError("this model has no next-module head; set ModelConfig(next_module_weight=...) > 0")
        steps, last = self._encode(padded, lengths, steps=True)
        modules = self.embedding.weight[PADDING_INDEX + 1:]
        return self.fc(self.dropout(last)).squeeze(-1), self.next_head(self.dropout(steps)) @ modules.T


class SequenceRegressor(nn.Module):
    """Embedding → encoder (LSTM, GRU, 1-D CNN or Transformer) → pooled summaries → head (08_model_comparison).

    The same interface as :class:`TherapySequenceModel`: padded indices and lengths in, one score per course out.
    """

    def __init__(self, vocab_size: int, config: ModelConfig) -> None:
        super().__init__()
        if config.next_module_weight > 0:
            raise ValueError("the next-module head is built for the original LSTM only (05_module_embeddings)")
        self.config, self.next_head = config, None
        self.embedding = module_table(vocab_size, config.embedding_dim)
        self.position = nn.Embedding(config.max_length, config.embedding_dim) if config.positional else None
        width = config.hidden_dim * (2 if config.bidirectional and config.architecture in ("lstm", "gru") else 1)
        if config.architecture in ("lstm", "gru"):
            self.encoder = (nn.LSTM if config.architecture == "lstm" else nn.GRU)(
                config.embedding_dim, config.hidden_dim, config.num_layers, batch_first=True,
                bidirectional=config.bidirectional, dropout=config.dropout if config.num_layers > 1 else 0.0)
        elif config.architecture == "cnn":
            self.encoder = nn.Sequential(
                nn.Conv1d(config.embedding_dim, config.hidden_dim, config.kernel_size, padding=config.kernel_size // 2),
                nn.ReLU(), nn.Conv1d(config.hidden_dim, config.hidden_dim, 1), nn.ReLU())
        else:
            layer = nn.TransformerEncoderLayer(config.embedding_dim, nhead=TRANSFORMER_HEADS,
                                               dim_feedforward=config.hidden_dim, dropout=config.dropout,
                                               batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
            width = config.embedding_dim
        self.attention = nn.Linear(width, 1) if "attention" in config.pooling else None
        self.dropout = nn.Dropout(config.dropout)
        pooled, outputs = width * len(config.pooling.split("+")), max(len(config.quantiles), 1)
        self.head = (nn.Linear(pooled, outputs) if not config.head_hidden else nn.Sequential(
            nn.Linear(pooled, config.head_hidden), nn.ReLU(), nn.Linear(config.head_hidden, outputs)))
        if config.embedding_init_std is not None:
            restart_module_table(self.embedding, config.embedding_init_std)
        if self.position is not None and config.position_init_std is not None:
            nn.init.normal_(self.position.weight, std=config.position_init_std)
        # Created last (so every other model draws its weights as before) and started at zero: the wide part
        # begins silent and learns the counts' linear signal while the network learns the rest.
        self.wide = nn.Linear(vocab_size, outputs) if config.wide else None
        if self.wide is not None:
            nn.init.zeros_(self.wide.weight)
            nn.init.zeros_(self.wide.bias)

    def wide_features(self, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The wide part's input (08_model_comparison): each module's count and the course length, divided by 10.

        The ridge's features, in the network's own layout: column ``i`` counts module index ``i``, and column 0 (the
        padding index, which is no module) holds the length. Scaled like the summed pooling, to keep inputs near 1.

        Parameters
        ----------
        padded : torch.Tensor
            Shape (courses, longest course), int64 module indices, 0 after each course's end.
        lengths : torch.Tensor
            Shape (courses,), each course's number of modules.

        Returns
        -------
        torch.Tensor
            Shape (courses, vocabulary size), float32.
        """
        counts = nn.functional.one_hot(padded, self.wide.in_features).sum(dim=1).float()
        counts[:, 0] = lengths.to(counts.device).float()
        return counts / 10

    def _encode(self, padded: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-position outputs (zero at padding) and, for recurrent encoders, the final states of each direction."""
        x = self.embedding(padded)
        if self.position is not None:
            if padded.shape[1] > self.config.max_length:
                raise ValueError(f"a course of {padded.shape[1]} modules exceeds max_length {self.config.max_length}")
            x = x + self.position.weight[: padded.shape[1]]
        if self.config.architecture in ("lstm", "gru"):
            outputs, hidden = run_recurrent(self.encoder, x, lengths, steps=self.config.pooling != "last")
            hidden = hidden[0] if self.config.architecture == "lstm" else hidden
            directions = 2 if self.config.bidirectional else 1
            return outputs, torch.cat(list(hidden[-directions:]), dim=-1)
        mask = (padded != 0).unsqueeze(-1)
        if self.config.architecture == "cnn":
            return self.encoder((x * mask).transpose(1, 2)).transpose(1, 2) * mask, None
        return self.encoder(x, src_key_padding_mask=padded == 0) * mask, None

    def embedding_layers(self) -> list[nn.Embedding]:
        """The one module embedding table (see :class:`SequenceModel`)."""
        return [self.embedding]

    def forward(self, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Predict one score per course from the pooled summaries of its encoded modules."""
        if self.config.reverse:
            padded = reverse_courses(padded, lengths)
        outputs, last = self._encode(padded, lengths)
        mask = (padded != 0).unsqueeze(-1)
        summaries = []
        for pooling in self.config.pooling.split("+"):
            if pooling == "last":
                summaries.append(last)
            elif pooling in ("mean", "sum"):
                total = outputs.sum(dim=1)
                # a sum grows with course length (counts carry signal); scaled to keep activations near 1
                summaries.append(total / lengths.to(total.device).unsqueeze(-1) if pooling == "mean" else total / 10)
            elif pooling == "max":
                summaries.append(outputs.masked_fill(~mask, float("-inf")).amax(dim=1))
            else:
                weights = self.attention(outputs).masked_fill(~mask, float("-inf")).softmax(dim=1)
                summaries.append((weights * outputs).sum(dim=1))
        scores = self.head(self.dropout(torch.cat(summaries, dim=-1)))
        if self.wide is not None:
            scores = scores + self.wide(self.wide_features(padded, lengths))
        return scores if self.config.quantiles else scores.squeeze(-1)  # (batch, quantiles) or (batch,)


class EnsembleModel(nn.Module):
    """The mean prediction of several models of one config, each trained from its own start (08_model_comparison).

    Averaging cancels part of what each member learned from noise; with few courses that is most of the error.
    """

    def __init__(self, vocab_size: int, config: ModelConfig) -> None:
        super().__init__()
        self.config, self.next_head = config, None
        member = replace(config, ensemble_size=1)
        self.members = nn.ModuleList(_make_model(vocab_size, member) for _ in range(config.ensemble_size))

    def embedding_layers(self) -> list[nn.Embedding]:
        """One table per member: an ensemble has no single embedding table (see :class:`SequenceModel`)."""
        return [layer for member in self.members for layer in member.embedding_layers()]

    def forward(self, padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The members' mean score per course."""
        return torch.stack([member(padded, lengths) for member in self.members]).mean(dim=0)


def run_recurrent(rnn: nn.LSTM | nn.GRU, inputs: torch.Tensor, lengths: torch.Tensor,
                  steps: bool = True) -> tuple[torch.Tensor | None, object]:
    """Per-step outputs (zero at padding; None unless ``steps``) and final states, padding invisible to the rnn.

    A batch of mixed lengths is packed; a batch whose courses all fill it (length bucketing) runs as it is,
    which gives the same numbers without the cost of packing (benchmarks/speed.py).
    """
    if bool((lengths == inputs.shape[1]).all()):
        return rnn(inputs)
    packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    outputs, state = rnn(packed)
    if not steps:
        return None, state
    outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=inputs.shape[1])
    return outputs, state


def reverse_courses(padded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each course read from its last module to its first, padding left at the end."""
    steps = torch.arange(padded.shape[1], device=padded.device)
    index = lengths.to(padded.device).unsqueeze(1) - 1 - steps
    return torch.where(index >= 0, padded.gather(1, index.clamp(min=0)), torch.zeros_like(padded))


def next_module_loss(logits: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of predicting module t+1 from the prefix up to t, over the real modules (logit column
    ``i`` is vocabulary index ``i + 1``); steps whose next position is padding are ignored."""
    targets = padded[:, 1:] - (PADDING_INDEX + 1)  # padding becomes -1: ignored
    return nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                       ignore_index=PADDING_INDEX - 1)


@contextmanager
def torch_rng(generator: torch.Generator):
    """Run a block on ``generator``'s random stream.

    ``nn.init``, dropout and the DataLoader's shuffling read torch's global CPU generator.
    This swaps ``generator``'s state in, restores the global state afterwards and advances
    ``generator`` by what the block drew, so callers pass explicit generators and nothing
    global leaks, while the draws stay exactly those of the original script.

    Parameters
    ----------
    generator : torch.Generator
        A CPU generator; the block draws from it and it is advanced by what the block drew.

    Yields
    ------
    None
        Control to the ``with`` block, with torch's global CPU generator set to ``generator``'s state.
    """
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        try:
            yield
        finally:
            generator.set_state(torch.get_rng_state())


def build_model(vocab_size: int, config: ModelConfig, generator: torch.Generator) -> SequenceModel:
    """A freshly initialised model whose weights come from ``generator`` (02_embedding_lstm_model).

    Parameters
    ----------
    vocab_size : int
        Rows of the embedding table: ``len(vocab)``, the modules plus the padding index 0.
    config : ModelConfig
        The model's shape; it picks the class (original LSTM, general regressor or ensemble).
    generator : torch.Generator
        CPU generator the initial weights are drawn from; it is advanced by the draws.

    Returns
    -------
    SequenceModel
        A :class:`TherapySequenceModel`, :class:`SequenceRegressor` or :class:`EnsembleModel`, in training mode.
    """
    with torch_rng(generator):
        return _make_model(vocab_size, config)


def _make_model(vocab_size: int, config: ModelConfig) -> SequenceModel:
    """The original class for the original shape, an ensemble or the general class otherwise (torch's RNG)."""
    if config.ensemble_size > 1:
        return EnsembleModel(vocab_size, config)
    return TherapySequenceModel(vocab_size, config) if config.is_original else SequenceRegressor(vocab_size, config)


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


def save_checkpoint(model: TherapySequenceModel, vocab: Vocabulary, directory: str | Path) -> Path:
    """Save ``model.pt`` (state dict) and ``model.json`` (config + vocabulary) in ``directory`` (03_training).

    Parameters
    ----------
    model : TherapySequenceModel
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
                    device: str | torch.device = "cpu") -> tuple[TherapySequenceModel, Vocabulary]:
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
    model : TherapySequenceModel
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
    model = _make_model(len(vocab), config)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise ValueError(f"{str(weights)!r} does not match its config {asdict(config)}: {first}") from None
    return model.to(device).eval(), vocab
