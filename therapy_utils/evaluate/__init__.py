"""Evaluation in three rooms: :mod:`~therapy_utils.evaluate.prediction`, :mod:`~therapy_utils.evaluate.explanation`
and :mod:`~therapy_utils.evaluate.comparison`.

Their public functions are also reachable from here (``evaluate.predict`` is ``evaluate.prediction.predict``), so a
notebook imports ``evaluate`` once and calls what it needs.
"""

from therapy_utils.evaluate.comparison import (
    VERDICTS,
    against_baseline,
    count_baseline,
    count_features,
    courses_needed,
    draw_training_set,
    format_mean_sd,
    holm,
    learning_curve,
    learning_curve_summary,
    mean_sd_table,
    paired_comparison,
    regression_metrics,
    winners_curse,
)
from therapy_utils.evaluate.explanation import (
    integrated_gradients,
    motif_hit,
    motif_positions,
    occlusion,
    path_start_predictions,
    removal_checks,
    replacement_occlusion,
)
from therapy_utils.evaluate.prediction import (
    Scorer,
    fit_similarity_temperature,
    model_scorer,
    next_module_gains,
    next_module_probabilities,
    next_module_scores,
    predict,
    prefixes_and_next,
    similarity_next_probabilities,
    top_k_hit_rate,
)

__all__ = [
    "VERDICTS", "Scorer", "against_baseline", "count_baseline", "count_features", "courses_needed",
    "draw_training_set", "fit_similarity_temperature", "format_mean_sd", "holm", "integrated_gradients",
    "learning_curve", "learning_curve_summary", "mean_sd_table", "model_scorer", "motif_hit", "motif_positions",
    "next_module_gains", "next_module_probabilities", "next_module_scores", "occlusion", "paired_comparison",
    "path_start_predictions", "predict", "prefixes_and_next", "regression_metrics", "removal_checks",
    "replacement_occlusion", "similarity_next_probabilities", "top_k_hit_rate", "winners_curse",
]
