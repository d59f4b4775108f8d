"""Shared fixtures: the reference data, small simulated tables and a quickly trained model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from therapy_utils.data import Vocabulary, split_courses
from therapy_utils.model import ModelConfig
from therapy_utils.simulate import preset_params, simulate_courses
from therapy_utils.train import TrainConfig, fit_new_model

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference" / "original_seed42_n500.csv"


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    """The original script's published data for seed 42 (lives beside the repository, in ../shared)."""
    if not REFERENCE.is_file():
        pytest.skip(f"reference data not found at {REFERENCE} (clone with ../shared beside the repository)")
    return pd.read_csv(REFERENCE)


@pytest.fixture(scope="session")
def small_courses() -> pd.DataFrame:
    """120 realistic courses: enough for every code path, quick to train on."""
    return simulate_courses(preset_params("realistic"), 120, seed=7)


@pytest.fixture(scope="session")
def trained(small_courses):
    """A model trained for a few epochs on the small table, with its vocabulary and split."""
    parts = split_courses(small_courses, random_state=0)
    vocab = Vocabulary.from_courses(small_courses["modules"])
    model, _ = fit_new_model(parts, vocab, ModelConfig(), TrainConfig(max_epochs=3), seed=0, device="cpu",
                             progress=False)
    return model, vocab, parts
