"""targets.csv overrides per plant and line, and the status against a target."""

import pytest

from pipelines.contract import load
from pipelines.staging.sources import InputError
from pipelines.views.targets import (
    AT_RISK,
    OFF_TARGET,
    ON_TARGET,
    Targets,
    load_targets,
    status,
)

OEE = load().kpis["oee"]  # registry default 75 %

TARGETS = """metric,plant,line,target
oee,,,0.80
oee,P,,0.70
oee,P,L1,0.65
oee,,L2,0.60
scrap_rate,P,,0.03
"""


@pytest.fixture
def targets(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text(TARGETS)
    return load_targets(path)


def test_the_most_specific_target_row_wins(targets):
    assert targets.resolve(OEE).value == 0.80  # all plants, all lines
    assert targets.resolve(OEE, ("P",)).value == 0.70  # plant P
    assert targets.resolve(OEE, ("P",), ("L1",)).value == 0.65  # plant P, line L1
    assert targets.resolve(OEE, ("Q",), ("L2",)).value == 0.60  # line L2 on any plant
    assert targets.resolve(OEE, ("P",), ("L2",)).value == 0.60  # line row beats the plant row


def test_a_scope_spanning_several_plants_takes_the_all_plant_row(targets):
    assert targets.resolve(OEE, ("P", "Q")).value == 0.80
    assert targets.resolve(OEE, ("P", "Q")).source == "targets.csv (all)"


def test_without_a_matching_row_the_registry_default_applies(targets):
    scrap = load().kpis["scrap_rate"]
    assert targets.resolve(scrap, ("Q",)).value == 0.02
    assert targets.resolve(scrap, ("Q",)).source == "registry"
    assert targets.resolve(scrap, ("P",)).value == 0.03
    assert Targets().resolve(OEE).value == 0.75


def test_a_missing_targets_file_means_registry_defaults(tmp_path):
    assert load_targets(tmp_path / "absent.csv").rows == ()
    assert load_targets(None).rows == ()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("metric,plant,line,target\nbogus,,,1\n", "line 2: unknown metric 'bogus'"),
        ("metric,plant,line,target\noee,,,high\n", "line 2: target is not a number"),
        ("metric,plant,line,target\noee,,,0.7\noee,,,0.8\n", "line 3: a second row"),
        ("metric,plant,line\noee,,\n", "missing column(s) target"),
    ],
)
def test_a_bad_targets_file_is_refused_with_its_line(tmp_path, text, error):
    path = tmp_path / "targets.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=error.replace("(", r"\(").replace(")", r"\)")):
        load_targets(path)


def test_a_row_may_set_its_own_at_risk_band(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text("metric,plant,line,target,at_risk_band\noee,,,0.80,0.10\n")
    r = load_targets(path).resolve(OEE)
    assert (r.value, r.at_risk_band) == (0.80, 0.10)
    # 0.73 is within 10 % of 0.80 (≥ 0.72): at risk
    assert status(0.73, r.value, "higher", r.at_risk_band) == AT_RISK


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.95, ON_TARGET),  # meets the target
        (0.91, AT_RISK),  # ≥ 0.95 − 5 % × 0.95 = 0.9025
        (0.90, OFF_TARGET),
    ],
)
def test_status_when_higher_is_better(value, expected):
    assert status(value, 0.95, "higher") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.02, ON_TARGET),
        (0.0205, AT_RISK),  # ≤ 0.02 + 5 % × 0.02 = 0.021
        (0.022, OFF_TARGET),
    ],
)
def test_status_when_lower_is_better(value, expected):
    assert status(value, 0.02, "lower") == expected


def test_no_status_without_a_value_or_a_target():
    assert status(None, 0.9, "higher") is None
    assert status(0.9, None, "higher") is None
    assert status(float("nan"), 0.9, "higher") is None


def test_a_zero_target_puts_any_value_above_it_off_target():
    assert status(0, 0, "lower") == ON_TARGET
    assert status(1, 0, "lower") == OFF_TARGET
