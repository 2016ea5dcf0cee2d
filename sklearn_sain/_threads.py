"""How many torch threads a fit or a prediction uses.

A SAIN network is a long sequence of small tensor operations. On an idle
machine a second thread shortens a fit by a fifth or so; on a machine whose
cores are busy with other work, every extra thread waits for a core at each
of the thousands of synchronisation points of an epoch, and a fit with two
threads has been measured 15-20 times slower than with one. ``n_threads="auto"``
therefore takes the threads that are free *now*, and looks again every few
seconds while it trains:

- never more than the thread's own budget, ``torch.get_num_threads()`` when
  the work starts, which already reflects ``OMP_NUM_THREADS``, the Dask
  nanny's and joblib's per-worker limits, threadpoolctl limits and an earlier
  ``torch.set_num_threads``;
- never more than the CPUs this process may use (its affinity mask and its
  cgroup CPU quota, as :func:`joblib.cpu_count` reads them);
- never more than the cores other processes leave idle, measured from the
  kernel's CPU counters (``/proc/stat``) minus this process's own CPU time.

Where the counters cannot be read (not Linux) the load average stands in.
In a thread other than the main one (threaded Dask or joblib workers, where
other fits of the same process may run beside it) ``"auto"`` is one thread.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import threading
import time

import joblib
import torch

# how often a running fit looks at the machine again
REBALANCE_SECONDS = 2.0
# the first look, before any work: long enough for the kernel's 10 ms ticks
FIRST_SAMPLE_SECONDS = 0.05
# below this many rows a prediction is one or two batches: one thread, no sampling
SMALL_WORK_ROWS = 8192


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask and cgroup quota included."""
    return max(1, int(joblib.cpu_count()))


def _busy_cpu_seconds() -> float | None:
    """Busy seconds of all CPUs together since boot, from ``/proc/stat``; None without it."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [float(value) for value in fields[1:9]]  # user .. steal
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class MachineLoad:
    """Cores kept busy by *other* processes, from the CPU counters between two looks."""

    def __init__(self, busy_seconds=_busy_cpu_seconds, own_seconds=_own_cpu_seconds,
                 clock=time.monotonic):  # fmt: skip
        self._busy_seconds, self._own_seconds, self._clock = busy_seconds, own_seconds, clock
        self._last = self._look()

    def _look(self):
        return self._busy_seconds(), self._own_seconds(), self._clock()

    def others_busy(self) -> float:
        """Average cores the rest of the machine used since the previous call."""
        (busy, own, now), (last_busy, last_own, last_now) = self._look(), self._last
        self._last = (busy, own, now)
        wall = now - last_now
        if busy is None or last_busy is None or wall <= 0:
            return _load_average_busy()
        busy = (busy - last_busy) - (own - last_own)
        return max(0.0, busy / wall)


def _load_average_busy() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def free_threads(ceiling: int, others_busy: float, cpus: int) -> int:
    """Threads that fit in the cores the others leave: between 1 and ``ceiling``."""
    return int(max(1, min(ceiling, cpus, round(cpus - others_busy))))


class AutoThreads:
    """``n_threads="auto"``: torch threads set to the free cores, looked at again every few seconds."""

    def __init__(self, load: MachineLoad | None = None, cpus: int | None = None,
                 clock=time.monotonic, first_sample: float = FIRST_SAMPLE_SECONDS):  # fmt: skip
        self.ceiling = torch.get_num_threads()
        self.cpus = usable_cpus() if cpus is None else cpus
        if threading.current_thread() is not threading.main_thread():
            self.ceiling = 1  # the process's other threads may be fitting too
        self._clock = clock
        self._load = load
        if self._load is None and min(self.ceiling, self.cpus) > 1:
            self._load = MachineLoad()
            time.sleep(first_sample)
        self.threads = self._choose()
        self._next = clock() + REBALANCE_SECONDS

    def _choose(self) -> int:
        if self._load is None:  # one thread is all the budget or the machine allows
            return 1
        return free_threads(self.ceiling, self._load.others_busy(), self.cpus)

    def step(self) -> None:
        """Called between batches: re-choose the threads when the time has come."""
        now = self._clock()
        if now < self._next:
            return
        self._next = now + REBALANCE_SECONDS
        threads = self._choose()
        if threads != self.threads:
            self.threads = threads
            torch.set_num_threads(threads)


class FixedThreads:
    """An int or None ``n_threads``: nothing to re-choose."""

    def step(self) -> None:
        pass


def _is_count(n_threads) -> bool:
    return isinstance(n_threads, numbers.Integral) and not isinstance(n_threads, bool) and n_threads >= 1


@contextlib.contextmanager
def torch_threads(n_threads, n_rows: int | None = None):
    """Run the block with the torch threads ``n_threads`` asks for; the setting is restored after.

    ``n_threads`` is an int, None (torch's setting as it is) or ``"auto"``
    (:class:`AutoThreads`). ``n_rows`` is the size of the work when it is
    known: ``"auto"`` takes one thread for a prediction of a batch or two.
    Yields the policy, whose ``step`` a training loop calls between batches.
    """
    previous = torch.get_num_threads()
    auto = isinstance(n_threads, str) and n_threads == "auto"
    if auto and n_rows is not None and n_rows <= SMALL_WORK_ROWS:
        auto, n_threads = False, 1
    if auto:
        policy = AutoThreads()
        threads = policy.threads
    elif _is_count(n_threads):
        policy, threads = FixedThreads(), int(n_threads)
    else:
        # None, or a value the estimator's own checks refuse with a clear message
        yield FixedThreads()
        return
    torch.set_num_threads(threads)
    try:
        yield policy
    finally:
        torch.set_num_threads(previous)
