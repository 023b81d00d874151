"""How the S3 driver cuts copies into parts (S3: every part but the last >= 5 MiB)."""

from __future__ import annotations

import itertools

import pytest

from wharf.storage.s3 import MIN_PART, _ranges

MiB = 1 << 20


@pytest.mark.parametrize("size", [0, 1, MIN_PART - 1, MIN_PART, 13 * MiB, 15 * MiB,
                                  16 * MiB + 1, 100 * MiB + 3])
def test_ranges_cover_everything_with_no_runt(size: int) -> None:
    ranges = _ranges(size, 5 * MiB)
    assert sum(end - start for start, end in ranges) == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(end - start >= MIN_PART for start, end in ranges[:-1])
    if len(ranges) > 1:
        assert ranges[-1][1] - ranges[-1][0] >= MIN_PART
    assert all(end - start < 10 * MiB for start, end in ranges)
