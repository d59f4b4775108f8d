"""Reading the learned module embeddings: the table, similarities and 2-D maps.

Taught in ``05_module_embeddings.ipynb``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics.pairwise import cosine_similarity

from therapy_utils.data import Vocabulary
from therapy_utils.model import TherapySequenceModel


def embedding_table(model: TherapySequenceModel, vocab: Vocabulary) -> pd.DataFrame:
    """One row per module (padding left out), one column per embedding dimension."""
    weights = model.embedding.weight.detach().cpu().numpy()[1:]
    return pd.DataFrame(weights, index=pd.Index(vocab.modules, name="module"))


def similarity_matrix(embeddings: pd.DataFrame) -> pd.DataFrame:
    """Cosine similarity between every pair of modules."""
    return pd.DataFrame(cosine_similarity(embeddings.to_numpy()), index=embeddings.index, columns=embeddings.index)


def most_similar(embeddings: pd.DataFrame, module: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` modules closest to ``module`` by cosine similarity, itself included as the original did."""
    if module not in embeddings.index:
        raise ValueError(f"module {module!r} is not in the embedding table {list(embeddings.index)}")
    row = similarity_matrix(embeddings).loc[module]
    order = np.argsort(-row.to_numpy(), kind="stable")[:k]
    return [(str(row.index[i]), float(row.iloc[i])) for i in order]


def project_2d(embeddings: pd.DataFrame, method: str = "tsne", random_state: int = 42) -> pd.DataFrame:
    """2-D coordinates (``x``, ``y``) per module; t-SNE uses the original's perplexity of 5."""
    if method == "tsne":
        reducer = TSNE(n_components=2, perplexity=min(5, len(embeddings) - 1), random_state=random_state)
    elif method == "pca":
        reducer = PCA(n_components=2, random_state=random_state)
    else:
        raise ValueError(f"unknown projection {method!r}; choose 'tsne' or 'pca'")
    coords = reducer.fit_transform(embeddings.to_numpy())
    return pd.DataFrame(coords, index=embeddings.index, columns=["x", "y"])
