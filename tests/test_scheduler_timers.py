"""The work-around for Snakemake's self-multiplying scheduler wake-ups (synpretrain.scheduler_timers)."""
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from synpretrain.scheduler_timers import schedule_one_reevaluation

LIBRARY = Path(__file__).resolve().parents[1] / "workflow"

# 20 one-line jobs; at the end, the most timers the scheduler had pending at once
SNAKEFILE = """
import sys, threading, time
if config["work_around"]:
    sys.path.insert(0, {library!r})
    from synpretrain.scheduler_timers import one_pending_reevaluation
    assert one_pending_reevaluation()

PEAK = [0]

def watch():
    while True:
        PEAK[0] = max(PEAK[0], sum(isinstance(t, threading.Timer) for t in threading.enumerate()))
        time.sleep(0.02)

threading.Thread(target=watch, daemon=True).start()

rule all:
    input: expand("step/{{i}}.txt", i=range(20))

rule step:
    output: "step/{{i}}.txt"
    shell: "touch {{output}}"

onsuccess:
    open("timers.txt", "w").write(str(PEAK[0]))
"""


def most_timers_pending(workdir: Path, work_around: bool) -> int:
    workdir.mkdir()
    (workdir / "Snakefile").write_text(SNAKEFILE.format(library=str(LIBRARY)))
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--quiet", "--config",
                    f"work_around={work_around}"], cwd=workdir, check=True, capture_output=True)
    return int((workdir / "timers.txt").read_text())


@pytest.mark.e2e
def test_the_scheduler_keeps_one_wake_up_pending_instead_of_one_per_job_event(tmp_path):
    # Snakemake 9.x as pinned: one more timer chain per job event (if this starts to fail, Snakemake
    # has fixed its scheduler and the work-around can go)
    assert most_timers_pending(tmp_path / "as_is", False) >= 10
    # one pending, and for a moment a second while the first one's thread ends
    assert most_timers_pending(tmp_path / "work_around", True) <= 2


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
