"""The checkpoints shipped in notebooks/checkpoints/ are exactly what training from scratch gives.

The notebooks load these files instead of training (the series must run in minutes). Each test first loads the
shipped checkpoint through ``fit_or_load`` with the notebook's own arguments — which refuses a checkpoint whose
recorded recipe differs — then trains the same recipe from scratch and compares the two models.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO

from therapy_utils import data, evaluate, model, simulate, train

CHECKPOINTS = REPO / "notebooks" / "checkpoints"
SETUP = train.TRANSFER_SETUP
# name → (course table, model config, train config, seed), as the notebooks call fit_or_load
RECIPES = {
    "realistic_lstm": ("notebook", model.ModelConfig(), train.TUTORIAL_TRAIN_CONFIG, 0),  # notebooks 03, 04, 05, 06
    "realistic_multitask": ("notebook", model.MULTITASK_CONFIG, train.TUTORIAL_TRAIN_CONFIG, 0),  # notebook 05
    "transfer_pretrained": ("transfer source", SETUP.model_config, SETUP.pretrain_config, SETUP.train_seed),  # 07
    "realistic_best": ("notebook", *train.NAMED_MODELS["best"], 0),  # notebook 09
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict:
    """The notebooks' realistic table (through the CSV, as notebook 01 saves it) and notebook 07's source table."""
    path = tmp_path_factory.mktemp("data") / "realistic_courses.csv"
    notebook = data.load_or_simulate(path, simulate.preset_params("realistic"), n_sequences=2000, seed=0)
    return {"notebook": notebook, "transfer source": SETUP.source()}


def test_every_shipped_checkpoint_has_a_recipe_here():
    assert sorted(p.name for p in CHECKPOINTS.iterdir()) == sorted(RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_checkpoint_equals_a_fresh_training(name, tables, tmp_path):
    table, model_config, train_config, seed = RECIPES[name]
    courses = tables[table]
    shipped, vocab, history = train.fit_or_load(courses, CHECKPOINTS / name, model_config, train_config, seed)
    fresh, _, fresh_history = train.fit_or_load(courses, tmp_path / name, model_config, train_config, seed,
                                                progress=False)
    # Training is deterministic on one torch build: bit-identical here. The tolerance leaves room only for
    # float summation order on another CPU; a different recipe moves weights by 1e-2 or more.
    gaps = [float((a - b).abs().max()) for a, b in zip(shipped.state_dict().values(), fresh.state_dict().values())]
    assert max(gaps) <= 1e-5
    test = data.split_courses(courses)["test"]
    assert np.abs(evaluate.predict(shipped, test, vocab) - evaluate.predict(fresh, test, vocab)).max() <= 1e-5
    assert len(history) == len(fresh_history)
    assert np.allclose(history["val_loss"], fresh_history["val_loss"], rtol=1e-6)
    assert (CHECKPOINTS / name / "training.json").read_text() == (tmp_path / name / "training.json").read_text()


def test_a_checkpoint_from_another_recipe_is_refused(tables):
    courses = tables["notebook"]
    with pytest.raises(ValueError, match=r"a different seed than asked for; pass overwrite=True"):
        train.fit_or_load(courses, CHECKPOINTS / "realistic_lstm", model.ModelConfig(), train.TUTORIAL_TRAIN_CONFIG,
                          seed=1)
    changed = courses.assign(effectiveness=courses["effectiveness"].where(courses.index != 5, 0.5))
    with pytest.raises(ValueError, match=r"a different courses_sha256 than asked for"):
        train.fit_or_load(changed, CHECKPOINTS / "realistic_lstm", model.ModelConfig(), train.TUTORIAL_TRAIN_CONFIG,
                          seed=0)
