"""Pictures of the model: an unrolled LSTM, padding vs packing, the gates over a course (02_embedding_lstm_model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from torch.nn.utils.rnn import PackedSequence


def _box(ax, x: float, y: float, text: str, colour, width: float = 0.7, height: float = 0.5) -> None:
    """A rounded box centred on (x, y) with ``text`` inside: one stage of a diagram."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.03",
                                facecolor=colour, edgecolor="0.25", linewidth=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], label: str = "", colour="0.25",
           offset: tuple[float, float] = (0, 0.1)) -> None:
    """An arrow from ``start`` to ``end``, with ``label`` written at its middle, shifted by ``offset``."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.3))
    if label:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], label, ha="center",
                va="bottom", fontsize=8, color=colour)


def unrolled_lstm_figure(course: Sequence[str], title: str, embedding_dim: int = 32, hidden_dim: int = 64) -> Figure:
    """The tutorial model unrolled over one course: modules → embedding → LSTM cells → last h → Linear → prediction.

    One picture of the whole model before its parts are taken apart (02_embedding_lstm_model): the same cell (the
    same weights) is applied at every step, passing its hidden state h and cell state c to the right, and only the
    hidden state after the last module reaches the linear head.

    Parameters
    ----------
    course : sequence of str
        The modules of one short course, in order (a handful fit the width).
    title : str
        The figure's title.
    embedding_dim, hidden_dim : int, default 32 and 64
        The sizes written on the boxes (the tutorial model's).

    Returns
    -------
    matplotlib.figure.Figure
        One diagram; the x-axis is the position in the course, the y-axis the stage.
    """
    colours = sns.color_palette("colorblind")
    n = len(course)
    fig = Figure(figsize=(4.2 + 1.55 * n, 4.6), dpi=100)
    ax = fig.subplots()
    for t, module in enumerate(course):
        _box(ax, t, 0, module, "white", width=0.45)
        _arrow(ax, (t, 0.27), (t, 0.73))
        _box(ax, t, 1, f"$x_{t + 1}$", colours[0] + (0.35,))
        _arrow(ax, (t, 1.27), (t, 1.73))
        _box(ax, t, 2, "LSTM\ncell", colours[1] + (0.45,), height=0.55)
        if t + 1 < n:
            _arrow(ax, (t + 0.36, 2.12), (t + 0.64, 2.12), f"$c_{t + 1}$", colours[3], offset=(0, 0.03))
            _arrow(ax, (t + 0.36, 1.9), (t + 0.64, 1.9), f"$h_{t + 1}$", colours[2], offset=(0, -0.2))
    _arrow(ax, (n - 1, 2.3), (n - 1, 2.73), f"$h_{n}$ (last)", colours[2], offset=(0.45, -0.1))
    _box(ax, n - 1, 3, "Dropout →\nLinear", colours[4] + (0.4,), width=0.8, height=0.55)
    _arrow(ax, (n - 0.58, 3), (n - 0.05, 3))
    _box(ax, n + 0.3, 3, "prediction\n$\\hat y$", "white", width=0.7, height=0.55)
    ax.text(n - 0.5, 2, f"one cell, the same weights at every step;\n$h_t, c_t \\in \\mathbb{{R}}^{{{hidden_dim}}}$",
            fontsize=8.5, color="0.3", va="center")
    ax.text(n - 0.5, 1, f"$x_t \\in \\mathbb{{R}}^{{{embedding_dim}}}$: the module's row\nof the embedding table",
            fontsize=8.5, color="0.3", va="center")
    ax.set(xlim=(-0.6, n + 1.5), ylim=(-0.45, 3.45), title=title, xlabel="position t in the course",
           ylabel="stage", xticks=range(n), xticklabels=[str(t + 1) for t in range(n)], yticks=range(4),
           yticklabels=["module", "embedding", "LSTM", "head"])
    ax.grid(False)
    fig.tight_layout()
    return fig


def padding_packing_figure(padded: np.ndarray, lengths: Sequence[int], packed: PackedSequence,
                           labels: Sequence[str], title: str) -> Figure:
    """A padded batch beside its packed form: which steps are padding, and which steps the packed LSTM computes.

    Left, every cell of the rectangle (courses × time steps) the padded tensor holds; right, the same grid with each
    real step numbered by its row in ``packed.data`` (time-major, longest course first) and the padding skipped
    (02_embedding_lstm_model).

    Parameters
    ----------
    padded : array-like of int
        Shape (courses, steps): module indices, 0 after each course's end.
    lengths : sequence of int
        Each course's true length.
    packed : torch.nn.utils.rnn.PackedSequence
        The batch packed with ``enforce_sorted=False``: its ``batch_sizes`` and ``sorted_indices`` give the order.
    labels : sequence of str
        The name of each index (``labels[0]`` for padding).
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing their axes: time step across, course down.
    """
    padded, lengths = np.asarray(padded), np.asarray(lengths)
    courses, steps = padded.shape
    order = list(np.asarray(packed.sorted_indices if packed.sorted_indices is not None else range(courses)))
    starts = np.concatenate([[0], np.cumsum(np.asarray(packed.batch_sizes))])
    real_colour = sns.color_palette("colorblind")[0] + (0.35,)
    fig = Figure(figsize=(12, 1.4 + 0.75 * courses), dpi=100)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, packed_view in zip(axes, (False, True), strict=True):
        for row, t in np.ndindex(courses, steps):
            real = t < lengths[row]
            if real:
                text = labels[padded[row, t]] + (f"\nrow {starts[t] + order.index(row)}" if packed_view else "")
            else:
                text = "not computed" if packed_view else f"{labels[0]} (0)"
            ax.add_patch(Rectangle((t, row), 0.94, 0.9, facecolor=real_colour if real else ("white" if packed_view
                                   else "0.9"), hatch="" if real or packed_view else "//", edgecolor="0.6",
                                   linestyle="-" if real or not packed_view else "--"))
            ax.text(t + 0.47, row + 0.45, text, ha="center", va="center", fontsize=9 if real else 8,
                    color="0.1" if real else "0.45")
        ax.set(xlim=(-0.1, steps + 0.05), ylim=(courses, -0.1), xlabel="time step t",
               xticks=np.arange(steps) + 0.47, yticks=np.arange(courses) + 0.45,
               yticklabels=[f"{i} (length {n})" for i, n in enumerate(lengths)])
        ax.grid(False)
    axes[0].set(title="Padded: the rectangle the tensor holds", ylabel="course (row of the batch)",
                xticklabels=[str(t + 1) for t in range(steps)])
    axes[1].set(title="Packed: only the real steps, numbered by their row in packed.data",
                xticklabels=[f"{t + 1}\n{b} running" for t, b in enumerate(np.asarray(packed.batch_sizes))])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _shade(ax, span: tuple[int, int], label: str | None = None) -> None:
    """Shade positions ``span[0]`` to ``span[1]`` (0-based, inclusive) of a per-position axis in neutral grey."""
    ax.axvspan(span[0] - 0.5, span[1] + 0.5, color="0.5", alpha=0.18, label=label, linewidth=0)


def _memory_heatmap(ax, change: np.ndarray, motif: tuple[int, int], course: Sequence[str]) -> None:
    """Each unit's change of cell state per position (units sorted by their change where the motif completes).

    The colour bar is an inset to the right of the heat map, so the heat map keeps the width of the panels below
    and its columns line up with their positions.
    """
    positions, units = change.shape
    image = ax.imshow(change[:, np.argsort(change[motif[1]])].T, aspect="auto", cmap="vlag", vmin=-0.6, vmax=0.6,
                      interpolation="nearest", extent=(-0.5, positions - 0.5, units - 0.5, -0.5))
    colour_bar = ax.figure.colorbar(image, cax=ax.inset_axes((1.015, 0.0, 0.018, 1.0)), extend="both")
    colour_bar.set_label("$c_t - c_{t-1}$")
    ax.add_patch(Rectangle((motif[0] - 0.5, -0.5), motif[1] - motif[0] + 1, units, fill=False, edgecolor="0.1",
                           linewidth=1.5, linestyle="--"))
    ax.tick_params(labelbottom=True)
    ax.set(title="What each module writes into each unit's memory (dashed: the motif)",
           ylabel=f"unit (sorted by its\nchange at {course[motif[1]]}, pos. {motif[1] + 1})")
    ax.grid(False)


def gate_activity_figure(course: Sequence[str], gates: Mapping[str, np.ndarray], cell: np.ndarray,
                         prediction: Sequence[float], expected: Sequence[float], motif: tuple[int, int],
                         title: str) -> Figure:
    """The LSTM's memory and gates over one course, above its prediction and the truth, the motif shaded.

    What a learner can see of a trained LSTM at work (02_embedding_lstm_model): what each module writes into the
    memory, how far the gates swing, and whether the prediction follows the simulator's expected effectiveness when
    the planted motif completes. It shows activity, not cause: units that move at the motif may move elsewhere too.

    Parameters
    ----------
    course : sequence of str
        The modules, in order (one column per position).
    gates : mapping of str to numpy.ndarray
        Gate name → values of shape (positions, units), between 0 and 1 (e.g. input, forget, output).
    cell : numpy.ndarray
        Shape (positions, units): the cell state after each module (the state before the first is zero).
    prediction : sequence of float
        The model's prediction if the course ended at each position.
    expected : sequence of float
        The truth for each prefix: the simulator's expected effectiveness of a course made of the modules so far.
    motif : tuple of int
        First and last position (0-based) of the planted motif, marked in every panel.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Three aligned panels sharing the positions (constrained layout, colour bar inset beside the heat map): each
        unit's change of cell state (units sorted by their change where the motif completes), each gate's median
        and 5–95 % range over units (gates side by side, one marker each), and prediction vs truth.
    """
    colours, positions = sns.color_palette("colorblind"), np.arange(len(course))
    fig = Figure(figsize=(9, 8.5), dpi=100, layout="constrained")
    heat_ax, gate_ax, truth_ax = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1.4, 1, 1]})
    _memory_heatmap(heat_ax, np.diff(cell, axis=0, prepend=0), motif, course)
    _shade(gate_ax, motif, "planted motif")
    gate_colours = (colours[0], colours[1], colours[4])  # green and vermilion are the truth panel's
    for k, (colour, marker, (name, values)) in enumerate(zip(gate_colours, "os^", gates.items(), strict=False)):
        low, mid, high = np.percentile(values, [5, 50, 95], axis=1)
        gate_ax.errorbar(positions + (k - 1) * 0.22, mid, yerr=(mid - low, high - mid), fmt=marker, color=colour,
                         markersize=6, capsize=3, label=f"{name} gate")
    gate_ax.set(title="Gates over the units: median (marker) and 5–95 % range (bar), side by side",
                ylabel="gate value", ylim=(0, 1))
    gate_ax.legend(loc="lower center", ncol=4, fontsize=8)
    _shade(truth_ax, motif, "planted motif")
    truth_ax.plot(positions, expected, "s-", color=colours[2], label="truth: E[y] of the course so far")
    truth_ax.plot(positions, prediction, "o-", color=colours[3], label="model's prediction if it ended here")
    truth_ax.set(title="Prediction and truth after each module", ylabel="effectiveness",
                 xlabel="module (position in the course)", xticks=positions,
                 xticklabels=[f"{m}\n{t + 1}" for t, m in enumerate(course)])
    truth_ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    return fig


def gradient_decay_figure(norms: Mapping[str, np.ndarray], title: str) -> Figure:
    """How much the last hidden state depends on each earlier input: gradient norm against steps before the end.

    Measures the vanishing gradient of a recurrent network (02_embedding_lstm_model): on a log axis, geometric decay
    is a straight line, and its slope is the average shrinking factor per step.

    Parameters
    ----------
    norms : mapping of str to numpy.ndarray
        Network name → shape (seeds, steps): ‖∂h_T/∂x_{T-k}‖ with k = 0, 1, ... steps before the end, one row per
        seed. Each network gets one thin line per seed and a thick line for the geometric mean over seeds.
    title : str
        The axes' title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel with a log y-axis.
    """
    fig = Figure(figsize=(8, 4.2), dpi=100)
    ax = fig.subplots()
    for colour, (name, values) in zip(sns.color_palette("colorblind"), norms.items(), strict=False):
        steps = np.arange(values.shape[1])
        for row in values:
            ax.plot(steps, row, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(steps, np.exp(np.log(values).mean(axis=0)), color=colour, linewidth=2.2, label=name)
    ax.plot([], [], color="0.5", alpha=0.4, linewidth=0.8, label="thin lines: each seed")
    ax.set(yscale="log", title=title, xlabel="steps before the end, $T - t$",
           ylabel="gradient norm $\\|\\partial h_T / \\partial x_t\\|$")
    ax.legend(loc="lower left", fontsize=9)
    fig.tight_layout()
    return fig
