"""A clock that tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Implements `taskapi.clock.Clock`: time stands still except when the test calls `advance()`, and
    each reading of `now()` is one microsecond after the last (timestamps of successive writes differ,
    as they do on a real clock)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime.now(UTC)
        self._elapsed = timedelta()

    def now(self) -> datetime:
        self._elapsed += timedelta(microseconds=1)
        return self._start + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed.total_seconds()

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._elapsed += timedelta(seconds=seconds)
