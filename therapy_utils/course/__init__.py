"""The course layer: what the notebooks need beyond the library, and nothing the library needs.

``check`` (the exercises' checks, one module per notebook), ``plots`` (the series' figures), ``widgets`` (the
interactive tools), ``checkpoints`` (the registry of the notebooks' committed models), ``transfer`` (notebook 07's
experiment) and ``cli`` (``python -m therapy_utils``, the original script's run). A course module may import the
library; no library module imports the course (``tests/test_packaging.py`` keeps it so).
"""
