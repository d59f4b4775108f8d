"""One colour per module group and per interval method, the same in every notebook (colour-blind safe)."""

from __future__ import annotations

from collections.abc import Iterable

import seaborn as sns
from matplotlib.patches import Patch

from therapy_utils.simulate import preset_params

# One colour per module group, the same in every notebook: the Okabe-Ito palette (Okabe & Ito 2008), safe for the
# common colour-vision deficiencies, in the realistic preset's group order; orange (skills) and vermilion (crisis) are
# its pair that stays apart for red-green deficiencies, and no two groups share a hue family.
OKABE_ITO: tuple[tuple[float, float, float], ...] = tuple(
    tuple(int(code[i:i + 2], 16) / 255 for i in (1, 3, 5))
    for code in ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"))
GROUP_ORDER = tuple(name for name, _ in preset_params("realistic").groups)
GROUP_COLOURS: dict[str, tuple[float, float, float]] = dict(zip(GROUP_ORDER, OKABE_ITO, strict=False))


def group_palette(groups: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """Colours for these group names: :data:`GROUP_COLOURS` for the realistic preset's, further colour-blind-safe
    ones for any other (a flowchart population's, a user's), in order of appearance (01_simulate_therapy_courses, 05).

    Parameters
    ----------
    groups : Iterable[str]
        Group names; repeats are allowed and count once (e.g. ``groups.values()`` of a module-to-group map).

    Returns
    -------
    dict[str, tuple[float, float, float]]
        One RGB colour per distinct group name, in order of first appearance.
    """
    spare = iter(list(OKABE_ITO[len(GROUP_ORDER):]) + sns.color_palette("Set2", 8))
    return {name: GROUP_COLOURS[name] if name in GROUP_COLOURS else next(spare) for name in dict.fromkeys(groups)}


def group_handles(groups: Iterable[str]) -> list[Patch]:
    """Legend entries (coloured squares) for these groups, e.g. for a clustermap's row colours (05).

    Parameters
    ----------
    groups : Iterable[str]
        Group names; repeats count once. Colours come from :func:`group_palette`.

    Returns
    -------
    list[matplotlib.patches.Patch]
        One patch per distinct group, labelled with its name, in order of first appearance.
    """
    return [Patch(color=colour, label=name) for name, colour in group_palette(groups).items()]


# One colour and line style per interval method (11_uncertainty), in uncertainty.METHODS' order; colour-blind safe.
METHOD_COLOURS: dict[str, tuple[float, float, float]] = dict(zip(
    ("split conformal", "normal theory", "Mondrian conformal", "split conformal on the median",
     "conformalised quantiles", "ensemble spread", "spread-scaled conformal"),
    [sns.color_palette("colorblind")[i] for i in (0, 9, 2, 3, 4, 7, 5)], strict=True))
# normal theory light blue (not orange beside the median's vermillion), spread-scaled brown (not a second pink)


METHOD_STYLES: dict[str, str] = {"normal theory": "--", "split conformal on the median": "--", "ensemble spread": ":"}
