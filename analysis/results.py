"""The answer of /analysis, built the same way by both modes."""

from __future__ import annotations

from dataclasses import dataclass


class NoDataError(Exception):
    """No post in the window carries the requested dimension."""

    def __init__(self, dimension: str, coverage: object = None) -> None:
        super().__init__(dimension)
        self.coverage = coverage


@dataclass(frozen=True, slots=True)
class Analysis:
    dimension: str
    total_posts: int
    minimum_timestamp: int
    maximum_timestamp: int
    p50: int
    p90: int
    p99: int

    def as_dict(self) -> dict[str, int]:
        return {
            "total_posts": self.total_posts,
            "minimum_timestamp": self.minimum_timestamp,
            "maximum_timestamp": self.maximum_timestamp,
            f"{self.dimension}_p50": self.p50,
            f"{self.dimension}_p90": self.p90,
            f"{self.dimension}_p99": self.p99,
        }
