"""What the stack's processes use while the bench runs: peak RSS per process (sampled in a
thread, from the kernel's high-water mark) and CPU per role over a measured window."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

SAMPLE_SECONDS = 0.5

# role -> the root pids of that role; each root's descendants belong to it as well.
RoleRoots = Callable[[], dict[str, list[int]]]


def _peak_rss_bytes(process: psutil.Process) -> int:
    """VmHWM (the kernel's peak resident set) where /proc has it, else the current RSS."""
    try:
        with open(f"/proc/{process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return process.memory_info().rss


@dataclass
class RolePeak:
    processes: int = 0
    largest_bytes: int = 0  # the largest peak of a single process of this role
    total_bytes: int = 0  # the largest sum of current RSS over the role at one moment


@dataclass
class ProcessMonitor:
    roots: RoleRoots
    peaks: dict[tuple[str, int], int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def processes(self) -> dict[str, list[psutil.Process]]:
        """Live processes by role: "<role> master" and "<role> worker" for a gunicorn (a role
        ending in "web": "web", or a ceiling's own), and each other role as is."""
        found: dict[str, list[psutil.Process]] = {}
        for role, pids in self.roots().items():
            for pid in pids:
                try:
                    root = psutil.Process(pid)
                    children = root.children(recursive=True)
                except psutil.Error:
                    continue
                if role.endswith("web"):
                    found.setdefault(f"{role} master", []).append(root)
                    found.setdefault(f"{role} worker", []).extend(children)
                else:
                    found.setdefault(role, []).extend([root, *children])
        return found

    def sample(self) -> None:
        for role, processes in self.processes().items():
            total = 0
            for process in processes:
                try:
                    peak = _peak_rss_bytes(process)
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
                key = (role, process.pid)
                self.peaks[key] = max(self.peaks.get(key, 0), peak)
            self.totals[role] = max(self.totals.get(role, 0), total)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def role_peaks(self) -> dict[str, RolePeak]:
        peaks: dict[str, RolePeak] = {}
        for (role, _pid), peak in self.peaks.items():
            entry = peaks.setdefault(role, RolePeak())
            entry.processes += 1
            entry.largest_bytes = max(entry.largest_bytes, peak)
        for role, total in self.totals.items():
            peaks.setdefault(role, RolePeak()).total_bytes = total
        return peaks

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of each role's live processes (user + system)."""
        seconds: dict[str, float] = {}
        for role, processes in self.processes().items():
            for process in processes:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                seconds[role] = seconds.get(role, 0.0) + times.user + times.system
        return seconds


@dataclass
class CpuWindow:
    """Cores used by each role between start() and stop() (1.0 = one core busy)."""

    monitor: ProcessMonitor
    _before: dict[str, float] = field(default_factory=dict)
    _started: float = 0.0

    def start(self) -> CpuWindow:
        self._before = self.monitor.cpu_seconds()
        self._started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._started
        after = self.monitor.cpu_seconds()
        return {
            role: max(0.0, seconds - self._before.get(role, 0.0)) / wall
            for role, seconds in after.items()
            if wall > 0
        }
