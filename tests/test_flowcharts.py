"""Issue 9, part 1: subtypes that choose the flowchart, detours and returns, interim response.

Ground truth (E[y | course], the next-module distribution) runs a forward algorithm over the hidden class,
responsiveness and flowchart position; it is checked against Monte Carlo on 400,000 courses of 4 sessions, grouped
by identical course or prefix. With hundreds of groups, each must lie within 5 standard errors (a family-wise false
alarm rate near 1e-3), and the spread of the standardised differences must be that of noise (sd within 0.9-1.12).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from therapy_utils import simulate
from therapy_utils import truth as ground_truth

FLOWCHARTS = simulate.preset_params("realistic", **simulate.FLOWCHARTS)
# responsiveness steers the course through the interim response: the quadrature over it is exercised
RESPONSIVE = replace(FLOWCHARTS, session_gain=0.3, session_scale=4.0, responsiveness_sd=0.6)
GROUPS = dict(FLOWCHARTS.groups)


def share_in(courses: pd.Series, modules: tuple[str, ...], start: int = 0) -> float:
    """Share of sessions from position ``start`` on that are one of ``modules``."""
    sessions = [m for course in courses for m in course[start:]]
    return float(np.isin(sessions, modules).mean())


@pytest.fixture(scope="module", params=["flowcharts", "with responsiveness"])
def four_sessions(request):
    params = replace(FLOWCHARTS if request.param == "flowcharts" else RESPONSIVE, min_length=4, max_length=4)
    return params, simulate.simulate_courses(params, 400_000, seed=12)


def test_flowchart_options_are_off_by_default():
    params = simulate.preset_params("realistic")
    assert params.subtypes == () and params.detour_prob == 0 and params.nonresponse_below is None
    assert "subtype" not in simulate.simulate_courses(params, 10, seed=0)


def test_each_subtype_follows_its_own_flowchart():
    courses = simulate.simulate_courses(FLOWCHARTS, 20_000, seed=1)
    by_subtype = courses.groupby("subtype")["modules"]
    exposure = by_subtype.apply(lambda c: share_in(c, GROUPS["exposure"]))
    cognitive = by_subtype.apply(lambda c: share_in(c, GROUPS["cognitive"]))
    assert exposure["anxiety"] > 3 * exposure["depression"]  # measured 0.129 vs 0.029
    # the motifs C-D-C and B-C-B draw cognitive modules into every flowchart: measured 0.179 vs 0.063
    assert cognitive["depression"] > 2 * cognitive["anxiety"]
    assert courses["subtype"].value_counts(normalize=True).sub(0.5).abs().max() < 0.02


def test_a_detour_returns_to_where_the_flowchart_was():
    """After a detour the next module depends on the module before it: the process remembers its place."""
    depression = replace(FLOWCHARTS.subtypes[0], prob=1.0)
    params = replace(FLOWCHARTS, detour_prob=0.3, subtypes=(depression,))
    after = ground_truth.next_module_distribution(params, [("K", "I"), ("C", "I")])
    cognitive = [params.modules.index(m) for m in GROUPS["cognitive"]]
    assert after[1, cognitive].sum() > after[0, cognitive].sum() + 0.1
    courses = simulate.simulate_courses(params, 20_000, seed=2)["modules"]
    detour_share = share_in(courses, params.detour_modules, start=1)
    assert 0.3 <= detour_share < 0.3 + 0.15  # detours plus the protocol's own visits to H and I


def test_patients_who_do_not_respond_are_re_engaged():
    courses = simulate.simulate_courses(RESPONSIVE, 20_000, seed=3)
    low = courses["responsiveness"] < courses["responsiveness"].quantile(0.2)
    engaged = [share_in(courses.loc[rows, "modules"], GROUPS["engagement"], start=1) for rows in (low, ~low)]
    assert engaged[0] > engaged[1] + 0.05
    off = simulate.simulate_courses(replace(RESPONSIVE, nonresponse_below=None), 20_000, seed=3)
    low_off = off["responsiveness"] < off["responsiveness"].quantile(0.2)
    assert abs(share_in(off.loc[low_off, "modules"], GROUPS["engagement"], start=1)
               - share_in(off.loc[~low_off, "modules"], GROUPS["engagement"], start=1)) < 0.01


@pytest.mark.slow
def test_expected_effectiveness_matches_monte_carlo_course_by_course(four_sessions):
    params, courses = four_sessions
    stats = courses.groupby("modules")["effectiveness"].agg(["mean", "std", "size"])
    stats = stats[stats["size"] >= 100]
    truth = ground_truth.expected_effectiveness(params, list(stats.index))
    z = (stats["mean"] - truth) / (stats["std"] / np.sqrt(stats["size"]))
    assert len(stats) > 300
    assert (z.abs() <= 5 + 1e-3 / (stats["std"] / np.sqrt(stats["size"]))).all()
    assert 0.9 < z.std() < 1.12 and abs(z.mean()) < 0.15


@pytest.mark.slow
def test_next_module_distribution_matches_monte_carlo(four_sessions):
    params, courses = four_sessions
    prefix = courses["modules"].map(lambda c: "".join(c[:3]))
    counts = pd.crosstab(prefix, courses["modules"].map(lambda c: c[3]))
    counts = counts[counts.sum(axis=1) >= 300]
    truth = ground_truth.next_module_distribution(params, [tuple(p) for p in counts.index])
    assert np.allclose(truth.sum(axis=1), 1.0)
    p = truth[:, [params.modules.index(m) for m in counts.columns]]
    n = counts.sum(axis=1).to_numpy()[:, None]
    expected_enough = p * n >= 10  # where the normal approximation of a count holds
    z = (counts.to_numpy() / n - p) / np.sqrt(p * (1 - p) / n)
    assert expected_enough.sum() > 1000
    assert np.abs(z[expected_enough]).max() <= 5


def test_interventional_truth_averages_over_subtypes():
    courses = [("A", "F", "C", "D"), ("A", "G", "K", "L")]
    per_subtype = [ground_truth.interventional_effectiveness(replace(FLOWCHARTS, subtypes=(replace(s, prob=1.0),)),
                                                         courses) for s in FLOWCHARTS.subtypes]
    mixed = ground_truth.interventional_effectiveness(FLOWCHARTS, courses)
    assert np.allclose(mixed, 0.5 * per_subtype[0] + 0.5 * per_subtype[1])
    assert per_subtype[0][0] > per_subtype[1][0] + 0.05 and per_subtype[1][1] > per_subtype[0][1] + 0.05


@pytest.mark.parametrize(("overrides", "message"), [
    ({"subtypes": (simulate.Subtype("x", 0.7, ("skills",)),)}, r"subtype probabilities \[0.7\] do not sum to 1"),
    ({"subtypes": (simulate.Subtype("x", 1.0, ("skill",)),)}, r"subtype 'x': phase 'skill' is not one of the groups"),
    ({"detour_prob": 1.0}, r"detour_prob must be in \[0, 1\), got 1.0"),
    ({"detour_prob": 0.1, "detour_modules": ("Z",)}, r"detour_modules \['Z'\] must be some of"),
    ({"nonresponse_shift": 1.5}, r"nonresponse_shift must be in \[0, 1\], got 1.5"),
    ({"detour_prob": 0.1, **simulate.STOPPING_RULE}, r"the stopping rule needs subtypes, detours and interim"),
])
def test_bad_options_are_refused_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        simulate.simulate_courses(simulate.preset_params("realistic", **overrides), 10, seed=0)
