"""The embedding + LSTM model, the general sequence regressor, ensembles, and building one from a config.

One :class:`~therapy_utils.model_config.ModelConfig` drives every model (its room: :mod:`therapy_utils.model_config`);
every model maps ``(padded indices, lengths)`` to one predicted effectiveness per course. Checkpoints:
:mod:`therapy_utils.checkpoint`. Taught in ``02_embedding_lstm_model.ipynb`` and ``08_model_comparison.ipynb``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Protocol, runtime_checkable

import torch
from torch import nn

# The configs, imported so that model.ModelConfig and the named configs name the same objects here too (``X as X``
# marks a deliberate re-export); their room is therapy_utils.model_config.
from therapy_utils.model_config import BEST_CONFIG as BEST_CONFIG
from therapy_utils.model_config import CNN_ENSEMBLE_CONFIG as CNN_ENSEMBLE_CONFIG
from therapy_utils.model_config import HEAD_DEFAULT_START_CONFIG as HEAD_DEFAULT_START_CONFIG
from therapy_utils.model_config import MULTITASK_CONFIG as MULTITASK_CONFIG
from therapy_utils.model_config import SMALL_START_CONFIG as SMALL_START_CONFIG
from therapy_utils.model_config import TRANSFORMER_HEADS, ModelConfig


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
