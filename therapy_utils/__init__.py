"""therapy_utils: the helper package behind the therapy_embeddings notebooks.

One module per stage: simulate, outcome (the simulator's outcome model, public), truth, data, batching, model,
train, evaluate, compare (comparisons over seeds), embeddings, optimize, checkpoints, uncertainty (prediction
intervals), plots, widgets, check (the exercises' checks), cli.
Importing the package does no work; import the stage you need.
"""

__version__ = "0.1.0"
