"""The models' configuration: one frozen dataclass drives every model, and validates itself (02_embedding_lstm_model).

:class:`ModelConfig` and the named configurations of the series. :mod:`therapy_utils.model` imports them, so
``model.ModelConfig`` is this class; this room holds what a config *is*, that one what a model built from it does.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from itertools import pairwise

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
