"""Courses in, batches out: padding, packing lengths, the DataLoader and the fast equal-length path.

Training, evaluation and the benchmarks all batch through here. The original's way is a DataLoader that pads each
shuffled batch (:func:`collate_courses`); the fast path encodes a table once (:class:`EncodedCourses`) and slices
batches of equal-length courses (:class:`BucketedBatches`), which need neither padding nor packing. Taught in
``02_embedding_lstm_model.ipynb`` (padding and packing) and ``03_training.ipynb`` (the loader in the loop).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from therapy_utils.data import Vocabulary


def encode_padded(courses: Sequence[Sequence[str]], vocab: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """Many courses → one padded index tensor and the lengths, without a DataLoader (04_evaluation).

    What :func:`evaluate.predict` runs on; cut to a batch's longest course, the same tensors as
    :func:`collate_courses` builds batch by batch. Each course is encoded by :meth:`Vocabulary.encode`.

    Parameters
    ----------
    courses : sequence of sequence of str
        The courses, each a non-empty sequence of module names.
    vocab : Vocabulary
        Maps module names to indices (1 and up; 0 is padding).

    Returns
    -------
    padded : torch.Tensor
        Shape (courses, longest course), int64 module indices, 0 after each course's end.
    lengths : torch.Tensor
        Shape (courses,), int64 number of sessions of each course.

    Raises
    ------
    ValueError
        A course is empty or holds a module not in ``vocab`` (the message names its row).
    """
    lengths = np.fromiter((len(c) for c in courses), dtype=np.int64, count=len(courses))
    padded = np.zeros((len(courses), int(lengths.max(initial=1))), dtype=np.int64)
    for row, course in enumerate(courses):
        padded[row, :len(course)] = vocab.encode(course, row)
    return torch.from_numpy(padded), torch.from_numpy(lengths)


@dataclass(frozen=True)
class EncodedCourses:
    """A course table encoded once into tensors: the fast path's input (benchmarks/speed.py).

    Built with :func:`encode_padded`; targets are NaN when the table has no ``effectiveness``.

    Parameters
    ----------
    padded : torch.Tensor
        Shape (courses, longest course), int64 module indices, 0 as padding.
    lengths : torch.Tensor
        Shape (courses,), int64 number of sessions of each course.
    targets : torch.Tensor
        Shape (courses,), float32 effectiveness of each course.
    """

    padded: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor

    @classmethod
    def from_courses(cls, courses: pd.DataFrame, vocab: Vocabulary) -> EncodedCourses:
        """Encode a course table once.

        Parameters
        ----------
        courses : pandas.DataFrame
            A course table: ``modules`` and, optionally, ``effectiveness``.
        vocab : Vocabulary
            Maps module names to indices.

        Returns
        -------
        EncodedCourses
            The table's courses in row order.

        Raises
        ------
        ValueError
            As :func:`encode_padded`.
        """
        padded, lengths = encode_padded(list(courses["modules"]), vocab)
        scores = courses["effectiveness"] if "effectiveness" in courses else np.full(len(courses), np.nan)
        return cls(padded, lengths, torch.tensor(np.asarray(scores, dtype=np.float64), dtype=torch.float32))

    def __len__(self) -> int:
        return len(self.lengths)


def length_buckets(lengths: torch.Tensor, batch_size: int, shuffle: bool) -> list[torch.Tensor]:
    """Index batches in which every course has the same length, so a batch needs no padding and no packing.

    With ``shuffle``, courses are permuted within each length and the batches' order is permuted, drawing
    from torch's random stream (``train_model`` runs this inside ``torch_rng(generator)``).

    Parameters
    ----------
    lengths : torch.Tensor
        Shape (courses,), integer number of sessions of each course.
    batch_size : int
        Most courses per batch; a length's last batch may be smaller.
    shuffle : bool
        Permute as above; False gives batches by increasing length, rows in table order.

    Returns
    -------
    list of torch.Tensor
        One int64 tensor of row positions per batch, shape (at most batch_size,); every row appears once.

    Raises
    ------
    ValueError
        ``batch_size`` is less than 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    batches = []
    for length in torch.unique(lengths).tolist():
        members = torch.nonzero(lengths == length).squeeze(1)
        if shuffle:
            members = members[torch.randperm(len(members))]
        batches += list(torch.split(members, batch_size))
    if shuffle:
        batches = [batches[i] for i in torch.randperm(len(batches)).tolist()]
    return batches


class CourseDataset(Dataset):
    """Encoded courses and their effectiveness, one item per course.

    Item ``i`` is ``(indices, target)``: an int64 tensor of shape (length,) and a float32 scalar tensor (NaN when
    the table has no ``effectiveness``).

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table: ``modules`` and, optionally, ``effectiveness``.
    vocab : Vocabulary
        Maps module names to indices.

    Raises
    ------
    ValueError
        A course is empty or holds a module not in ``vocab`` (the message names its row).
    """

    def __init__(self, courses: pd.DataFrame, vocab: Vocabulary) -> None:
        self.sequences = [torch.tensor(vocab.encode(c, row), dtype=torch.long)
                          for row, c in enumerate(courses["modules"])]
        scores = courses["effectiveness"] if "effectiveness" in courses else np.full(len(courses), np.nan)
        self.targets = torch.tensor(np.asarray(scores, dtype=np.float64), dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sequences[idx], self.targets[idx]


def collate_courses(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch with index 0 and keep the true lengths so the model can pack it (02_embedding_lstm_model).

    Parameters
    ----------
    batch : list of (torch.Tensor, torch.Tensor)
        :class:`CourseDataset` items: indices of shape (length,) and a scalar target.

    Returns
    -------
    padded : torch.Tensor
        Shape (batch, longest course in the batch), the indices with 0 after each course's end.
    lengths : torch.Tensor
        Shape (batch,), int64 true lengths.
    targets : torch.Tensor
        Shape (batch,), the targets stacked.
    """
    sequences, targets = zip(*batch, strict=True)
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    return pad_sequence(list(sequences), batch_first=True, padding_value=0), lengths, torch.stack(targets)


def make_loader(courses: pd.DataFrame, vocab: Vocabulary, batch_size: int, shuffle: bool,
                bucketing: bool = False) -> DataLoader | BucketedBatches:
    """Batches of ``(padded, lengths, targets)`` (02_embedding_lstm_model).

    The default is the original's DataLoader, padding each batch as it goes; ``bucketing`` gives the fast
    path, :class:`BucketedBatches`.

    Parameters
    ----------
    courses : pandas.DataFrame
        A course table: ``modules`` and, optionally, ``effectiveness`` (NaN targets without it).
    vocab : Vocabulary
        Maps module names to indices.
    batch_size : int
        Most courses per batch.
    shuffle : bool
        Reshuffle the courses on every pass.
    bucketing : bool, default False
        Batch equal-length courses without padding instead of padding shuffled batches.

    Returns
    -------
    torch.utils.data.DataLoader or BucketedBatches
        Iterable of ``(padded, lengths, targets)``, shapes (batch, length), (batch,), (batch,).

    Raises
    ------
    ValueError
        A course is empty or holds a module not in ``vocab``.
    """
    if bucketing:
        return BucketedBatches(EncodedCourses.from_courses(courses, vocab), batch_size, shuffle)
    return DataLoader(CourseDataset(courses, vocab), batch_size=batch_size, shuffle=shuffle,
                      collate_fn=collate_courses)


class BucketedBatches:
    """Equal-length batches sliced from tensors built once: no per-batch padding, no packing (benchmarks/speed.py).

    Iterating again reshuffles (when ``shuffle``), like a DataLoader; ``indices`` lists each batch's rows
    in the order of the last pass, so predictions can be put back in table order.

    Each batch is ``(padded, lengths, targets)``: shapes (batch, length) with no padding, (batch,) and (batch,).

    Parameters
    ----------
    encoded : EncodedCourses
        The encoded table to slice.
    batch_size : int
        Most courses per batch (at least 1); a length's last batch may be smaller.
    shuffle : bool
        Reshuffle, as :func:`length_buckets` does, on every pass.
    """

    def __init__(self, encoded: EncodedCourses, batch_size: int, shuffle: bool) -> None:
        self.encoded, self.batch_size, self.shuffle = encoded, batch_size, shuffle
        self.indices: list[torch.Tensor] = []

    def __len__(self) -> int:
        counts = torch.unique(self.encoded.lengths, return_counts=True)[1]
        return int(sum(math.ceil(c / self.batch_size) for c in counts.tolist()))

    def __iter__(self):
        self.indices = length_buckets(self.encoded.lengths, self.batch_size, self.shuffle)
        for index in self.indices:
            length = int(self.encoded.lengths[index[0]])
            yield self.encoded.padded[index, :length], self.encoded.lengths[index], self.encoded.targets[index]
