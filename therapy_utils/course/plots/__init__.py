"""Figures, one submodule per stage of the series; every figure titled, every axis labelled, one colour per group.

The names most notebooks use are re-exported here (``plots.group_palette``, ``plots.training_figure``, ...);
a notebook's own figures live in its stage's submodule (``plots.model`` for 02_embedding_lstm_model, ...).
"""

from therapy_utils.course.plots import (
    comparison,
    embeddings,
    evaluation,
    explanations,
    model,
    optimizing,
    palette,
    sessions,
    simulation,
    training,
    uncertainty,
)
from therapy_utils.course.plots.comparison import learning_curve_figure, oracle_share_curve_figure, oracle_share_figure
from therapy_utils.course.plots.embeddings import embedding_map_figure, label_offsets
from therapy_utils.course.plots.optimizing import length_curve_figure, module_effects_figure, regret_figure
from therapy_utils.course.plots.palette import (
    GROUP_COLOURS,
    GROUP_ORDER,
    METHOD_COLOURS,
    METHOD_STYLES,
    group_handles,
    group_palette,
)
from therapy_utils.course.plots.training import plot_losses, training_figure
from therapy_utils.course.plots.uncertainty import coverage_by_bin_figure, reliability_figure, spread_error_figure

__all__ = [
    "GROUP_COLOURS", "GROUP_ORDER", "METHOD_COLOURS", "METHOD_STYLES", "comparison", "coverage_by_bin_figure",
    "embedding_map_figure", "embeddings", "evaluation", "explanations", "group_handles", "group_palette",
    "label_offsets", "learning_curve_figure", "length_curve_figure", "model", "module_effects_figure", "optimizing",
    "oracle_share_curve_figure", "oracle_share_figure", "palette", "plot_losses", "regret_figure",
    "reliability_figure", "sessions", "simulation", "spread_error_figure", "training", "training_figure", "uncertainty",
]
