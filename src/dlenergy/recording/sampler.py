"""CPU % and resident memory of the training command's process tree (psutil), for ``cpu.csv``."""

from __future__ import annotations

import math
import time


class ProcessTreeSampler:
    """CPU % and resident memory of a process and all its descendants (psutil).

    CPU % is the sum over the tree of ``psutil.Process.cpu_percent()`` since the previous sample
    (100 = one core busy; a tree busy on 4 cores reads 400).  Memory is the sum of RSS in MB
    (2**20 bytes).  The first sample of a process reads 0 % (psutil needs two readings).

    Finding the descendants scans all of ``/proc`` (about 3 ms with 90 processes), so the tree's
    membership is refreshed at most every ``refresh_s`` seconds; in between the known processes
    are read.  A process started in between is counted from the next refresh on.

    Examples
    --------
    >>> import os
    >>> cpu_pct, rss_mb = ProcessTreeSampler(os.getpid()).sample()
    >>> rss_mb > 1
    True
    """

    def __init__(self, pid: int, refresh_s: float = 1.0):
        import psutil

        self._psutil = psutil
        self.root = psutil.Process(pid)
        self.refresh_s = refresh_s
        self._procs: dict[int, object] = {pid: self.root}
        self._tree: list = [self.root]
        self._refreshed = -math.inf

    def _refresh_tree(self) -> bool:
        """Re-list the tree when due; ``False`` when the root process is gone."""
        ps = self._psutil
        now = time.monotonic()
        if now - self._refreshed >= self.refresh_s:
            try:
                self._tree = [self.root, *self.root.children(recursive=True)]
            except (ps.NoSuchProcess, ps.ZombieProcess):
                return False
            except ps.AccessDenied:
                self._tree = [self.root]
            self._refreshed = now
            return True
        return self.root.is_running()

    def sample(self) -> tuple[float, float] | None:
        """``(cpu %, rss MB)`` summed over the tree, or ``None`` once the whole tree is gone."""
        ps = self._psutil
        if not self._refresh_tree():
            return None
        cpu = 0.0
        rss = 0
        seen = {}
        for p in self._tree:
            cached = self._procs.get(p.pid)
            if cached is not None and cached == p:  # same pid and creation time: keep its CPU baseline
                p = cached
            try:
                with p.oneshot():
                    cpu += p.cpu_percent(interval=None)
                    rss += p.memory_info().rss
            except (ps.NoSuchProcess, ps.ZombieProcess, ps.AccessDenied):
                continue
            seen[p.pid] = p
        if not seen:  # the whole tree is gone (or a zombie waiting to be reaped)
            return None
        self._procs = seen
        return cpu, rss / 2**20
