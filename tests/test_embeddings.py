"""What the embeddings tell you: the measuring tools, and the tutorial's measured results pinned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from therapy_utils.data import Vocabulary
from therapy_utils.embeddings import (
    cluster_modules,
    clustering_ari,
    drift_from_start,
    embedding_table,
    group_similarity,
)
from therapy_utils.evaluate import (
    next_module_probabilities,
    next_module_scores,
    prefixes_and_next,
    similarity_next_probabilities,
    top_k_hit_rate,
)
from therapy_utils.model import ModelConfig, build_model
from therapy_utils.simulate import preset_params, simulate_courses
from therapy_utils.truth import next_module_distribution

GROUPS = {"a": "g1", "b": "g1", "c": "g2", "d": "g2", "e": "g3", "f": "g3"}


def three_clusters(noise: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    centres = {"g1": [1, 0, 0], "g2": [0, 1, 0], "g3": [0, 0, 1]}
    rows = [np.array(centres[GROUPS[m]]) + noise * rng.standard_normal(3) for m in GROUPS]
    return pd.DataFrame(rows, index=list(GROUPS))


def test_group_similarity_on_known_vectors():
    result = group_similarity(three_clusters(), GROUPS)
    assert result["within_group_cosine"] > 0.99 and abs(result["between_group_cosine"]) < 0.05
    assert result["nn_same_group"] == 1.0


def test_clustering_chooses_k_by_silhouette_and_recovers_planted_groups():
    clusters, silhouettes = cluster_modules(three_clusters(), "kmeans", k_range=range(2, 5))
    assert int(silhouettes.idxmax()) == 3 and clusters.nunique() == 3
    assert clustering_ari(three_clusters(), GROUPS, "hierarchical") == 1.0
    with pytest.raises(ValueError, match="'dbscan'"):
        cluster_modules(three_clusters(), "dbscan")


def test_next_module_scores_of_the_truth_equal_the_oracle():
    params = preset_params("realistic")
    courses = simulate_courses(params, 200, seed=1)["modules"]
    prefixes, following = prefixes_and_next(courses)
    assert len(prefixes) == sum(len(c) - 1 for c in courses)
    truth = next_module_distribution(params, prefixes)
    scores = next_module_scores(truth, following, truth, params.modules)
    assert scores["top1"] == scores["top1_oracle"] and scores["top3"] == scores["top3_oracle"]
    assert scores["kl"] == pytest.approx(0.0, abs=1e-9)


def test_similarity_probabilities_are_distributions_sharpened_by_temperature():
    table = three_clusters()
    warm = similarity_next_probabilities(table, [("a",), ("c", "d")], temperature=1.0)
    cold = similarity_next_probabilities(table, [("a",), ("c", "d")], temperature=0.05)
    assert np.allclose(warm.sum(axis=1), 1) and np.allclose(cold.sum(axis=1), 1)
    assert cold[0, :2].sum() > warm[0, :2].sum() > 1 / 3


def test_a_model_without_next_head_says_so():
    model = build_model(5, ModelConfig(), torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="no next-module head"):
        model.forward_with_next(torch.tensor([[1, 2]]), torch.tensor([2]))


@pytest.mark.slow
def test_tutorial_results_on_the_realistic_preset(retrained):
    """Seeds 0-4 at 2,000 courses gave ARI 1.0 (k-means and hierarchical), nearest-neighbour-in-group 1.0 and
    head top-3 at 0.98-0.99 of the oracle's; an effectiveness-only model stayed near ARI 0 (-0.08 to 0.05).
    The bounds below are the issue's targets, well inside that spread. The models are the notebooks' recipes,
    trained from scratch here (shared with tests/test_checkpoints.py), not the shipped files."""
    params = preset_params("realistic")
    model, vocab, test, _ = retrained("realistic_multitask")
    effectiveness_only = retrained("realistic_lstm")[0]
    table = embedding_table(model, vocab)
    assert clustering_ari(table, params.group_of()) >= 0.8
    assert clustering_ari(table, params.group_of(), "hierarchical") >= 0.8
    assert group_similarity(table, params.group_of())["nn_same_group"] >= 0.8
    assert clustering_ari(embedding_table(effectiveness_only, vocab), params.group_of()) < 0.3
    # notebook 05's one-change arms: the small start alone and the head alone both stay near chance (seed 0)
    for arm in ("realistic_small_start", "realistic_multitask_default_start"):
        assert clustering_ari(embedding_table(retrained(arm)[0], vocab), params.group_of()) < 0.3, arm
    prefixes, following = prefixes_and_next(test["modules"])
    scores = next_module_scores(next_module_probabilities(model, test, vocab), following,
                                next_module_distribution(params, prefixes), vocab.modules)
    assert scores["top3"] >= 0.95 * scores["top3_oracle"]


def test_top_k_counts_a_tie_by_column_order_whatever_the_last_bits():
    """A prefix (A, B) is exactly as similar to A as to B; float rounding must not decide which ranks first."""
    tied = np.array([[0.4, 0.4, 0.2], [0.4, 0.4 + 1e-15, 0.2], [0.4 + 1e-15, 0.4, 0.2]])
    actual_second = np.array([1, 1, 1])
    assert top_k_hit_rate(tied, actual_second, 1) == 0.0  # tied with column 0, which comes first
    assert top_k_hit_rate(tied, np.array([0, 0, 0]), 1) == 1.0
    assert top_k_hit_rate(tied, actual_second, 2) == 1.0
    clear = np.array([[0.1, 0.5, 0.4]])
    assert top_k_hit_rate(clear, np.array([1]), 1) == 1.0 and top_k_hit_rate(clear, np.array([2]), 1) == 0.0
    ranked = np.argsort(-clear, axis=1, kind="stable")[:, :2]  # without near-ties it is a stable argsort
    assert top_k_hit_rate(clear, np.array([0]), 2) == float((ranked == 0).any())


def test_drift_from_start_draws_the_starting_table_again():
    """An untrained model is exactly at its start; the start is the seed's, so another seed's model is not."""
    vocab = Vocabulary(tuple("ABCDE"))
    config = ModelConfig(embedding_dim=8, hidden_dim=4)
    untrained = build_model(len(vocab), config, torch.Generator().manual_seed(3))
    drift = drift_from_start(untrained, vocab, seed=3)
    assert list(drift.index) == list("ABCDE")
    assert np.allclose(drift["cosine_to_start"], 1.0, atol=1e-6) and np.allclose(drift["norm_ratio"], 1.0)
    other = drift_from_start(untrained, vocab, seed=4)
    assert (other["cosine_to_start"] < 0.99).all()
    with torch.no_grad():
        untrained.embedding.weight[1:] *= -2.0  # every vector turned round and doubled
    flipped = drift_from_start(untrained, vocab, seed=3)
    assert np.allclose(flipped["cosine_to_start"], -1.0, atol=1e-6) and np.allclose(flipped["norm_ratio"], 2.0)
