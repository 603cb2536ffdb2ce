"""Time as text for the recording folder: UTC time stamps and hh:mm:ss durations."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso(timespec: str = "milliseconds") -> str:
    """The current UTC time in ISO 8601, e.g. ``2026-11-26T14:30:00.123+00:00``."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def fmt_duration(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
