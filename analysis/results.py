"""What /analysis is asked and what it answers, the same types for both modes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from analysis.percentiles import DEFAULT_PERCENTILES, Percentile
from analyzer_project.durations import format_duration


@dataclass(frozen=True, slots=True)
class Question:
    """The percentiles of some dimensions over the posts of the last `duration` (of some
    post types only, if any are given)."""

    dimensions: tuple[str, ...]
    duration: timedelta
    percentiles: tuple[Percentile, ...] = DEFAULT_PERCENTILES
    post_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the table holds for a historical window, so a caller can tell quiet from stopped."""

    now: datetime
    since: datetime  # start of the data actually covered: window start or oldest row
    newest: datetime | None  # newest arrival at or before now

    @property
    def age_seconds(self) -> int | None:
        return None if self.newest is None else int((self.now - self.newest).total_seconds())


@dataclass(frozen=True, slots=True)
class Window:
    """The interval an answer covers, in Unix seconds; for stored data, how fresh it is."""

    start: float
    end: float
    coverage: Coverage | None = None


@dataclass(frozen=True, slots=True)
class Analysis:
    """Counts over a window and, per dimension, its percentiles (None: no post carries it)."""

    total_posts: int
    minimum_timestamp: int | None  # None only in a series' point without posts
    maximum_timestamp: int | None
    values: dict[str, dict[str, int | None]]  # dimension -> {"p50": value, …}
    window: Window

    def as_dict(self) -> dict[str, int | None]:
        answer = {
            "total_posts": self.total_posts,
            "minimum_timestamp": self.minimum_timestamp,
            "maximum_timestamp": self.maximum_timestamp,
        }
        for dimension, values in self.values.items():
            answer.update((f"{dimension}_{name}", value) for name, value in values.items())
        return answer


@dataclass(frozen=True, slots=True)
class Series:
    """A window cut into steps, one Analysis per step (its window), oldest first."""

    duration: timedelta
    step: timedelta
    points: tuple[Analysis, ...]
    window: Window

    def as_dict(self) -> dict[str, object]:
        return {
            "duration": format_duration(self.duration),
            "step": format_duration(self.step),
            "points": [
                {"start": round(p.window.start), "end": round(p.window.end), **p.as_dict()}
                for p in self.points
            ],
        }


class NoDataError(Exception):
    """No post of the window carries any of the asked dimensions."""

    def __init__(self, dimensions: tuple[str, ...], window: Window | None = None) -> None:
        super().__init__(", ".join(dimensions))
        self.dimensions = dimensions
        self.window = window
