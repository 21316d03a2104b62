from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from analysis.historical import post_percentiles
from analysis.results import Question
from analysis.shared import SingleFlight, shared_post_percentiles
from tests.conftest import make_post, store


class Held:
    """A computation that runs until released, counting how often it was started."""

    def __init__(self, result: object = "answer") -> None:
        self.result, self.calls = result, 0
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self) -> object:
        self.calls += 1
        self.started.set()
        self.release.wait(10)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Key:
    """An equal key for every caller, which tells when run() has looked it up."""

    def __init__(self) -> None:
        self.looked_up = threading.Event()

    def __hash__(self) -> int:
        self.looked_up.set()
        return 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key)


def run_while_held(flight: SingleFlight, compute: Held, callers: int) -> list:
    """Call run() from `callers` threads while the first one's computation is held."""
    keys = [Key() for _ in range(callers)]

    def call(key):
        try:
            return flight.run(key, compute)
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(keys)) as pool:
        first = pool.submit(call, keys[0])
        compute.started.wait(10)
        others = [pool.submit(call, key) for key in keys[1:]]
        for key in keys[1:]:  # each has found the running computation
            key.looked_up.wait(10)
        compute.release.set()
        return [first.result(), *(other.result() for other in others)]


def test_callers_of_a_running_computation_share_its_result():
    compute = Held()
    assert run_while_held(SingleFlight(), compute, 8) == ["answer"] * 8
    assert compute.calls == 1


def test_a_failed_computation_raises_its_error_to_every_caller():
    error = ValueError("no data")
    compute = Held(error)
    assert run_while_held(SingleFlight(), compute, 4) == [error] * 4
    assert compute.calls == 1


def test_the_next_caller_after_a_computation_computes_afresh():
    flight, results = SingleFlight(), iter(["first", "second"])
    assert flight.run("k", lambda: next(results)) == "first"
    assert flight.run("k", lambda: next(results)) == "second"


def test_different_keys_do_not_share():
    flight, compute = SingleFlight(), Held()
    other = threading.Thread(target=lambda: flight.run("a", compute))
    other.start()
    compute.started.wait(10)
    assert flight.run("b", lambda: "own") == "own"
    compute.release.set()
    other.join(10)


@pytest.mark.django_db
def test_a_shared_answer_is_the_analysis_of_the_window_it_states():
    now = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)
    store(*((now - timedelta(seconds=s), make_post(likes=s)) for s in range(1, 200)))
    question = Question(("likes",), timedelta(minutes=2))
    analysis = shared_post_percentiles(question, clock=lambda: now)
    assert analysis.window.coverage.now == now
    expected = post_percentiles(question, now=now)
    assert analysis == expected
