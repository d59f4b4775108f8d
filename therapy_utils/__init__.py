"""therapy_utils: the helper package behind the therapy_embeddings notebooks, in two layers.

**The library** — one module per stage, reusable without the course: simulate (parameters and generators), outcome
(the simulator's outcome model, public), stopping_rule, clinic (routine care session by session, with a PHQ-9-like
score), prognosis (the truth while a course runs), truth, data, sessions (a clinic's sessions as arrays), files
(course files in and out), batching, model_config, model, train, checkpoint (saving, loading and one ``fit_or_load``),
early_warning (predicting the outcome after every session), evaluate (prediction, explanation, comparison and
by_session), embeddings, optimize and uncertainty (prediction intervals).

**The course** — :mod:`therapy_utils.course`, what the notebooks need beyond the library: course.check (the exercises'
checks, one module per notebook), course.plots, course.widgets, course.monitor (notebook 12's session monitor),
course.checkpoints (the notebooks' committed models),
course.transfer (notebook 07's experiment) and course.cli (``python -m therapy_utils``). The course imports the
library, never the reverse.

Importing the package does no work; import the stage you need.
"""

__version__ = "0.1.0"
