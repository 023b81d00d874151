from datetime import timedelta

import pytest

from wharf.durations import parse_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("0d", timedelta(0)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
    ("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)), ("600", timedelta(minutes=10)),
    ("0.5", timedelta(seconds=0.5)), ("2w", timedelta(weeks=2)),
])
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "-1d", "7 days", "1y", "1h30m"])
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
