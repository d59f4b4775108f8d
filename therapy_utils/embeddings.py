"""Reading the learned module embeddings: the table, similarities, 2-D maps, clusters, next modules.

Taught in ``05_module_embeddings.ipynb``; saving, exporting and reusing them in
``07_transfer_learning.ipynb``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics.pairwise import cosine_similarity

from therapy_utils.data import Vocabulary
from therapy_utils.model import SequenceModel, build_model, module_embedding


def embedding_table(model: SequenceModel, vocab: Vocabulary) -> pd.DataFrame:
    """One row per module (padding left out), one column per embedding dimension.

    Parameters
    ----------
    model : SequenceModel
        A single trained model with one module embedding table of ``len(vocab)`` rows; an ensemble (one table per
        member) raises ValueError (:func:`model.module_embedding`).
    vocab : Vocabulary
        The vocabulary the model was trained with.

    Returns
    -------
    pandas.DataFrame
        Shape (modules, embedding_dim), copied to the CPU; index ``vocab.modules`` named ``module``,
        columns 0..embedding_dim-1.
    """
    weights = module_embedding(model).weight.detach().cpu().numpy()[1:]
    return pd.DataFrame(weights, index=pd.Index(vocab.modules, name="module"))


def similarity_matrix(embeddings: pd.DataFrame) -> pd.DataFrame:
    """Cosine similarity between every pair of modules.

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name, as :func:`embedding_table` returns.

    Returns
    -------
    pandas.DataFrame
        Shape (modules, modules), cosines in [-1, 1]; index and columns are the module names.
    """
    return pd.DataFrame(cosine_similarity(embeddings.to_numpy()), index=embeddings.index, columns=embeddings.index)


def most_similar(embeddings: pd.DataFrame, module: str, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` modules closest to ``module`` by cosine similarity, itself included as the original did.

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name.
    module : str
        The module to start from.
    k : int, default 5
        How many modules to return (fewer when the table has fewer).

    Returns
    -------
    list of (str, float)
        ``(module, cosine)`` pairs, most similar first; ties keep table order.

    Raises
    ------
    ValueError
        ``module`` is not in the table's index.
    """
    if module not in embeddings.index:
        raise ValueError(f"module {module!r} is not in the embedding table {list(embeddings.index)}")
    row = similarity_matrix(embeddings).loc[module]
    order = np.argsort(-row.to_numpy(), kind="stable")[:k]
    return [(str(row.index[i]), float(row.iloc[i])) for i in order]


def project_2d(embeddings: pd.DataFrame, method: str = "tsne", random_state: int = 42) -> pd.DataFrame:
    """2-D coordinates (``x``, ``y``) per module; t-SNE uses the original's perplexity of 5 (05_module_embeddings).

    ``attrs["axis_labels"]`` names the axes: for PCA with the share of variance each component explains.

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name.
    method : {"tsne", "pca"}, default "tsne"
        The projection; t-SNE's perplexity is ``min(5, modules - 1)``.
    random_state : int, default 42
        Seed of the projection.

    Returns
    -------
    pandas.DataFrame
        Shape (modules, 2), columns ``x`` and ``y``, same index; ``attrs["axis_labels"]`` a pair of str.

    Raises
    ------
    ValueError
        ``method`` is neither ``"tsne"`` nor ``"pca"``.
    """
    if method == "tsne":
        reducer = TSNE(n_components=2, perplexity=min(5, len(embeddings) - 1), random_state=random_state)
    elif method == "pca":
        reducer = PCA(n_components=2, random_state=random_state)
    else:
        raise ValueError(f"unknown projection {method!r}; choose 'tsne' or 'pca'")
    coords = pd.DataFrame(reducer.fit_transform(embeddings.to_numpy()), index=embeddings.index, columns=["x", "y"])
    if method == "pca":  # what share of the vectors' variance each axis shows (the figures label their axes with it)
        share = reducer.explained_variance_ratio_
        coords.attrs["axis_labels"] = (f"PC1 ({share[0]:.0%} of variance)", f"PC2 ({share[1]:.0%} of variance)")
    else:
        coords.attrs["axis_labels"] = ("t-SNE 1", "t-SNE 2")
    return coords


def group_similarity(embeddings: pd.DataFrame, groups: dict[str, str]) -> dict[str, float]:
    """Mean cosine within vs between true groups, and the share of modules whose nearest neighbour shares their group.

    The check behind "similar contexts give similar embeddings" (05_module_embeddings).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name.
    groups : dict of str to str
        The true group of every module in the table.

    Returns
    -------
    dict of str to float
        ``within_group_cosine``: mean cosine over pairs of distinct modules of one group;
        ``between_group_cosine``: mean over pairs from different groups; ``nn_same_group``: share (0 to 1) of
        modules whose nearest other module by cosine is in their group.
    """
    similarity = similarity_matrix(embeddings).to_numpy().copy()
    labels = embeddings.index.map(groups).to_numpy()
    same = np.equal.outer(labels, labels)
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    within, between = similarity[same & off_diagonal].mean(), similarity[~same].mean()
    np.fill_diagonal(similarity, -np.inf)
    nearest_same = labels[similarity.argmax(axis=1)] == labels
    return {"within_group_cosine": float(within), "between_group_cosine": float(between),
            "nn_same_group": float(nearest_same.mean())}


def drift_from_start(model: SequenceModel, vocab: Vocabulary, seed: int) -> pd.DataFrame:
    """How far training moved each module's vector from where it started (05_module_embeddings).

    A map of embeddings that have barely moved shows the random initialisation, not what the model learned; this
    measures it. The starting table is drawn again exactly as :func:`train.fit` drew it: a model of the same config
    built from a generator seeded with ``seed`` (nothing else is drawn before the initial weights).

    Parameters
    ----------
    model : SequenceModel
        A single trained model (one module table), as returned by ``train.fit(..., seed=seed)``.
    vocab : Vocabulary
        Its vocabulary.
    seed : int
        The seed it was trained from.

    Returns
    -------
    pandas.DataFrame
        One row per module: ``cosine_to_start`` (1 = pointing where it started) and ``norm_ratio`` (trained length
        over starting length).
    """
    start = build_model(len(vocab), model.config, torch.Generator().manual_seed(seed))
    trained, initial = embedding_table(model, vocab), embedding_table(start, vocab)
    cosines = (trained * initial).sum(axis=1) / np.linalg.norm(trained, axis=1) / np.linalg.norm(initial, axis=1)
    ratio = np.linalg.norm(trained, axis=1) / np.linalg.norm(initial, axis=1)
    return pd.DataFrame({"cosine_to_start": cosines, "norm_ratio": ratio}, index=trained.index)


def cluster_modules(embeddings: pd.DataFrame, method: str = "kmeans", k_range: Iterable[int] = range(2, 9),
                    random_state: int = 0) -> tuple[pd.Series, pd.Series]:
    """Cluster the (centred, length-normalised) embeddings; k is the one with the best silhouette.

    Returns the cluster of each module and the silhouette of every k tried: the choice of k never
    looks at the true groups (05_module_embeddings).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name.
    method : {"kmeans", "hierarchical"}, default "kmeans"
        k-means, or agglomerative clustering with average linkage on cosine distance.
    k_range : iterable of int, default range(2, 9)
        Numbers of clusters to try; those outside ``2 <= k < modules`` are skipped.
    random_state : int, default 0
        Seed of k-means (unused by ``hierarchical``).

    Returns
    -------
    clusters : pandas.Series
        Shape (modules,), the cluster label (int) of each module for the best k; named ``cluster``.
    silhouettes : pandas.Series
        Cosine silhouette score of each k tried, indexed by k; named ``silhouette``.

    Raises
    ------
    ValueError
        ``method`` is unknown, or no k of ``k_range`` can be tried.
    """
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import normalize

    if method == "kmeans":
        def make(k):
            return KMeans(n_clusters=k, n_init=10, random_state=random_state)
    elif method == "hierarchical":
        def make(k):
            return AgglomerativeClustering(n_clusters=k, linkage="average", metric="cosine")
    else:
        raise ValueError(f"unknown clustering method {method!r}; choose 'kmeans' or 'hierarchical'")
    points = normalize(embeddings.to_numpy() - embeddings.to_numpy().mean(axis=0))
    k_range = [k for k in k_range if 2 <= k < len(points)]  # the silhouette needs 2 ≤ k < number of modules
    labels = {k: make(k).fit_predict(points) for k in k_range}
    silhouettes = pd.Series({k: silhouette_score(points, labels[k], metric="cosine") for k in k_range},
                            name="silhouette")
    best = int(silhouettes.idxmax())
    return pd.Series(labels[best], index=embeddings.index, name="cluster"), silhouettes


def clustering_ari(embeddings: pd.DataFrame, groups: dict[str, str], method: str = "kmeans") -> float:
    """Adjusted Rand index between the silhouette-chosen clusters and the true groups (1 = identical).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name.
    groups : dict of str to str
        The true group of every module in the table.
    method : {"kmeans", "hierarchical"}, default "kmeans"
        Passed to :func:`cluster_modules` (with its default ``k_range`` and ``random_state``).

    Returns
    -------
    float
        The adjusted Rand index: 1 for identical partitions, about 0 for chance agreement.

    Raises
    ------
    ValueError
        As :func:`cluster_modules`.
    """
    from sklearn.metrics import adjusted_rand_score

    clusters, _ = cluster_modules(embeddings, method)
    return float(adjusted_rand_score(embeddings.index.map(groups), clusters))


def save_embeddings(embeddings: pd.DataFrame, path: str | Path) -> Path:
    """Write the table as CSV (``module`` then one column per dimension), so another model can start from it.

    CSV keeps the file readable and diff-able; floats are written in full, so loading gives the same
    numbers back (07_transfer_learning).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name; the columns are written as ``dim_0``, ``dim_1``, ...
    path : str or pathlib.Path
        The CSV file to write; its parent directories are created.

    Returns
    -------
    pathlib.Path
        ``path``, as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = embeddings.copy()
    table.columns = [f"dim_{i}" for i in range(table.shape[1])]
    table.rename_axis("module").to_csv(path, float_format="%.9g")
    return path


def load_embeddings(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save_embeddings`; refuse one that is ragged, non-numeric or repeats a module.

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV with a ``module`` column and one column per dimension.

    Returns
    -------
    pandas.DataFrame
        Shape (modules, dims), float32; index named ``module``, columns 0..dims-1.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a file.
    ValueError
        No ``module`` column or no dimension, a module appears twice, or a value is missing, non-numeric or not
        finite.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no embeddings file {str(path)!r}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)  # raw text, so an error shows what was written
    if "module" not in table.columns or table.shape[1] < 2:
        raise ValueError(f"{str(path)!r} needs a 'module' column and at least one dimension, got {list(table.columns)}")
    repeated = table["module"][table["module"].duplicated()]
    if len(repeated):
        raise ValueError(f"{str(path)!r}: module {repeated.iloc[0]!r} appears more than once "
                         f"(row {int(repeated.index[0])})")
    values = table.drop(columns="module").apply(pd.to_numeric, errors="coerce")
    bad = np.argwhere(~np.isfinite(values.to_numpy(dtype=float)))
    if len(bad):
        row, column = bad[0]
        raise ValueError(f"{str(path)!r}: row {row} (module {table['module'].iloc[row]!r}) has "
                         f"{values.columns[column]} = {table.iloc[row, column + 1]!r}, not a finite number")
    values = values.astype(np.float32)  # the dtype of an embedding layer: a saved model's table comes back exactly
    values.index = pd.Index(table["module"], name="module")
    values.columns = range(values.shape[1])
    return values


def export_projector(embeddings: pd.DataFrame, directory: str | Path, names: dict[str, str] | None = None,
                     groups: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write ``vecs.tsv`` and ``meta.tsv`` for the TensorBoard Embedding Projector (projector.tensorflow.org).

    ``vecs.tsv`` has one tab-separated vector per line, no header; ``meta.tsv`` the matching labels,
    with a header row because it has more than one column (07_transfer_learning).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Shape (modules, dims), indexed by module name.
    directory : str or pathlib.Path
        Where to write the two files; created if missing.
    names : dict of str to str or None, default None
        Readable name of each module, the ``name`` column of ``meta.tsv`` (empty where missing).
    groups : dict of str to str or None, default None
        Group of each module, the ``group`` column of ``meta.tsv`` (empty where missing).

    Returns
    -------
    tuple of (pathlib.Path, pathlib.Path)
        The paths of ``vecs.tsv`` and ``meta.tsv``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vectors, meta = directory / "vecs.tsv", directory / "meta.tsv"
    embeddings.to_csv(vectors, sep="\t", header=False, index=False, float_format="%.6g")
    labels = pd.DataFrame({"module": embeddings.index})
    labels["name"] = labels["module"].map(names or {}).fillna("")
    labels["group"] = labels["module"].map(groups or {}).fillna("")
    labels.to_csv(meta, sep="\t", index=False)
    return vectors, meta


def use_pretrained_embeddings(model: SequenceModel, vocab: Vocabulary, embeddings: pd.DataFrame,
                              freeze: bool) -> SequenceModel:
    """Copy a saved table into ``model``'s embedding layer, row by module name; ``freeze`` stops training it.

    Every module of the vocabulary must be in the table, with the model's embedding size (07_transfer_learning).

    Parameters
    ----------
    model : SequenceModel
        A single model with an ``embedding`` layer of ``len(vocab)`` rows; changed in place.
    vocab : Vocabulary
        The model's vocabulary; row ``i + 1`` of the layer gets module ``vocab.modules[i]`` (padding row 0 is kept).
    embeddings : pandas.DataFrame
        Shape (modules, embedding_dim), indexed by module name, e.g. from :func:`load_embeddings`; extra modules
        are ignored.
    freeze : bool
        True: the embedding weights stop requiring gradients; False: they are trained.

    Returns
    -------
    SequenceModel
        ``model`` itself.

    Raises
    ------
    ValueError
        A module of ``vocab`` is missing from the table, or its width is not the model's embedding size.
    """
    missing = [str(m) for m in vocab.modules if m not in embeddings.index]
    if missing:
        raise ValueError(f"module(s) {missing} of the vocabulary are not in the embeddings table")
    table = module_embedding(model)
    if embeddings.shape[1] != table.embedding_dim:
        raise ValueError(f"embeddings have {embeddings.shape[1]} dimensions; the model expects {table.embedding_dim}")
    rows = torch.tensor(embeddings.loc[list(vocab.modules)].to_numpy(dtype=float), dtype=table.weight.dtype)
    with torch.no_grad():
        table.weight[1:] = rows.to(table.weight.device)
    table.weight.requires_grad_(not freeze)
    return model
