"""A work-around for Snakemake 9's scheduler waking itself more and more often as a run goes on.

Snakemake's job scheduler (snakemake/scheduling/job_scheduler.py, 9.x) ends every pass of its loop
by starting a `threading.Timer` that wakes the loop again after the job rate limiter's timespan
(`--max-jobs-per-timespan`, default 100/1s). The pass that timer wakes starts another timer, so
each timer lives on as a chain that wakes the loop once a second for as long as jobs are waiting,
and every pass woken by something else (a job that finished, a job that started) starts one more
chain. After k jobs, the loop runs ~k passes a second, each one resetting the resources of every
ready job, checking their inputs' sizes and asking the job selector. In the demo (185 jobs on 2
cores) the Snakemake process reached ~170 threads and spent 265 CPU-seconds (15 % of one core)
competing with the jobs; on a cluster the chains grow with every one of the paper's 1,584 jobs.

`one_pending_reevaluation()` makes the scheduler keep a single pending wake-up: a new one is
started only when none is pending that fires as early. The loop still wakes at least once per
timespan (the rate limiter's purpose), and job events wake it as before. Timers are daemon
threads, so Snakemake no longer waits up to a timespan for them when it exits.
"""

from __future__ import annotations

import threading
import time

_LOCK = threading.Lock()  # guards the pending wake-up's due time (one scheduler per process)


def one_pending_reevaluation() -> None:
    """Install the work-around on Snakemake's JobScheduler.

    Does nothing if this Snakemake has no such method (the scheduler changed: the work-around is
    then either unneeded or needs to be looked at again); installing it twice is harmless.
    """
    from snakemake.scheduling.job_scheduler import JobScheduler

    if hasattr(JobScheduler, "_schedule_reevalutation"):
        JobScheduler._schedule_reevalutation = schedule_one_reevaluation


def schedule_one_reevaluation(scheduler, delay: float) -> None:
    """Wake `scheduler`'s loop (release its `_open_jobs`) in `delay` seconds, unless a wake-up
    that fires no later is pending."""
    due = time.monotonic() + delay
    with _LOCK:
        pending_due = getattr(scheduler, "_reevaluation_due", None)
        if pending_due is not None and pending_due <= due:
            return
        scheduler._reevaluation_due = due

    def wake():
        with _LOCK:
            # forget this wake-up before the loop runs, so that the pass it starts schedules the next
            if scheduler._reevaluation_due == due:
                scheduler._reevaluation_due = None
        scheduler._open_jobs.release()

    timer = threading.Timer(delay, wake)
    timer.daemon = True
    timer.start()
