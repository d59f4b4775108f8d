"""Checks for the notebooks' exercises: each says *correct*, or gives a hint naming what is wrong, never the answer.

``check.exNN_name`` belongs to notebook NN and lives in ``check/nbNN.py``; what every check shares (the
:class:`~therapy_utils.course.check.guards.Verdict` and the guards that read a learner's answer) is in
:mod:`~therapy_utils.course.check.guards`. Questions about data are judged against the simulator's truth, or against
the saved benchmark runs the notebook passes in, not against a stored answer, so every correct answer passes; no
check draws at random. An exercise left as ``...`` gets "no answer yet" and does nothing else. Worked solutions:
``notebooks/solutions/NN_solutions.ipynb``.
"""

from therapy_utils.course.check.guards import NO_ANSWER, Verdict
from therapy_utils.course.check.nb01 import (
    ex01_good_course,
    ex01_noise_direction,
    ex01_transition_counts,
)
from therapy_utils.course.check.nb02 import (
    ex02_gru_cell,
    ex02_masked_mean,
    ex02_parameter_count,
)
from therapy_utils.course.check.nb03 import (
    ex03_accumulate,
    ex03_plateau,
    ex03_split,
)
from therapy_utils.course.check.nb04 import (
    ex04_model_error,
    ex04_oracle_residuals,
    ex04_r2,
)
from therapy_utils.course.check.nb05 import (
    ex05_cosine,
    ex05_groups,
    ex05_top_k,
)
from therapy_utils.course.check.nb06 import (
    ex06_best_next,
    ex06_close_course,
    ex06_occlusion,
)
from therapy_utils.course.check.nb07 import (
    ex07_param_groups,
    ex07_strict_sizes,
    ex07_zero_shot,
)
from therapy_utils.course.check.nb08 import (
    ex08_paired_p,
    ex08_shuffled_vs_ridge,
    ex08_wider_cnn,
)
from therapy_utils.course.check.nb09 import (
    ex09_g_formula,
    ex09_greedy,
    ex09_overrated,
)
from therapy_utils.course.check.nb10 import (
    ex10_disagree,
    ex10_ig_linear,
    ex10_least_removed,
)
from therapy_utils.course.check.nb11 import (
    ex11_misplaced,
    ex11_scaled,
    ex11_train_calibration,
)
from therapy_utils.course.check.nb12 import (
    ex12_calibration_error,
    ex12_censoring,
    ex12_false_alarm,
)

__all__ = [
    "NO_ANSWER",
    "Verdict",
    "ex01_good_course",
    "ex01_noise_direction",
    "ex01_transition_counts",
    "ex02_gru_cell",
    "ex02_masked_mean",
    "ex02_parameter_count",
    "ex03_accumulate",
    "ex03_plateau",
    "ex03_split",
    "ex04_model_error",
    "ex04_oracle_residuals",
    "ex04_r2",
    "ex05_cosine",
    "ex05_groups",
    "ex05_top_k",
    "ex06_best_next",
    "ex06_close_course",
    "ex06_occlusion",
    "ex07_param_groups",
    "ex07_strict_sizes",
    "ex07_zero_shot",
    "ex08_paired_p",
    "ex08_shuffled_vs_ridge",
    "ex08_wider_cnn",
    "ex09_g_formula",
    "ex09_greedy",
    "ex09_overrated",
    "ex10_disagree",
    "ex10_ig_linear",
    "ex10_least_removed",
    "ex11_misplaced",
    "ex11_scaled",
    "ex11_train_calibration",
    "ex12_calibration_error",
    "ex12_censoring",
    "ex12_false_alarm",
]
