"""The work-around for Snakemake's self-multiplying scheduler wake-ups (synpretrain.scheduler_timers)."""
import sys
import threading
import time
from pathlib import Path

import pytest

from synpretrain.scheduler_timers import schedule_one_reevaluation

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
from bench_scheduler import run_once  # noqa: E402


@pytest.mark.e2e
def test_the_scheduler_keeps_one_wake_up_pending_instead_of_one_per_job_event():
    # Snakemake 9.x as pinned: one more timer chain per job event (if this starts to fail, Snakemake
    # has fixed its scheduler and the work-around can go)
    assert run_once(False, jobs=20, seconds=0, cores=1)["most_timers_pending"] >= 10
    # one pending, and for a moment a second while the first one's thread ends
    assert run_once(True, jobs=20, seconds=0, cores=1)["most_timers_pending"] <= 2


class Scheduler:
    """What schedule_one_reevaluation uses of Snakemake's JobScheduler."""

    def __init__(self):
        self._open_jobs = threading.Semaphore(0)

    def wake_ups(self, within: float) -> int:
        """How often the loop is woken in the next `within` seconds."""
        count, end = 0, time.monotonic() + within
        while self._open_jobs.acquire(timeout=max(end - time.monotonic(), 0.0)):
            count += 1
        return count


def test_many_requests_give_one_wake_up_and_the_woken_pass_can_schedule_the_next():
    scheduler = Scheduler()
    for _ in range(50):
        schedule_one_reevaluation(scheduler, 0.2)
    assert scheduler.wake_ups(within=1.5) == 1
    # the pass that the wake-up started asks again: the chain goes on
    schedule_one_reevaluation(scheduler, 0.1)
    assert scheduler.wake_ups(within=1.5) == 1


def test_a_later_pending_wake_up_does_not_hold_back_an_earlier_one():
    scheduler = Scheduler()
    schedule_one_reevaluation(scheduler, 5.0)  # e.g. "waiting for queue input"
    started = time.monotonic()
    schedule_one_reevaluation(scheduler, 0.1)
    assert scheduler._open_jobs.acquire(timeout=2.0)
    assert time.monotonic() - started < 2.0
