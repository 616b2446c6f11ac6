"""A column's sample counts the same from Python lists and from Arrow, and `mostly` stops early
with the answer `share` gives."""

import pyarrow as pa
import pytest

from pipelines.uploads.plausibility import Sample


def test_a_sample_counts_the_same_from_arrow():
    values = [" b ", "a", "", "b", "\u00a0", "a", "c"]
    # stripped: b, a, (blank), b, (blank), a, c → counts in order of first appearance
    listed, arrow = Sample.of(values), Sample.of_arrow(pa.array(values))
    assert listed == arrow == Sample({"b": 2, "a": 2, "c": 1}, 5, 3, 7)
    assert list(arrow.counts) == ["b", "a", "c"]


def test_an_empty_sample():
    assert Sample.of_arrow(pa.array([], pa.string())) == Sample({}, 0, 0, 0)


@pytest.mark.parametrize("at_least", [0.5, 0.6, 0.8, 1.0])
def test_mostly_is_share_at_least(at_least):
    s = Sample({"1": 3, "x": 1, "2": 1}, 5, 3, 5)  # 4 of 5 values are digits: 0.8
    assert s.mostly(str.isdigit, at_least) == (s.share(str.isdigit)[0] >= at_least)
    assert Sample({}, 0, 0, 0).mostly(str.isdigit) is False
