"""One child process of the cluster: its own session (so a kill -9 of a node reaches its
master and workers, and the terminal's Ctrl-C reaches only `manage.py cluster`, which then
stops everything in order), output appended to a log file, and a SIGTERM when the process
that started it dies, however it dies (nothing is left holding the ports and data of the
next run)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STOP_TIMEOUT_SECONDS = 20
READY_TIMEOUT_SECONDS = 60
ERR_EXITED = "{name} exited with code {code}; see {log}"
ERR_NOT_READY = "{name} was not ready within {timeout:.0f} s; see {log}"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _terminate_with_parent() -> None:
    """preexec_fn: in the child, before exec (the setting survives exec)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Process:
    name: str
    command: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as handle:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_terminate_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise RuntimeError(
                ERR_EXITED.format(name=self.name, code=self.popen.returncode, log=self.log)
            )

    def wait_until(self, ready, *, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll `ready()` until it is true; fail at once if the process exits."""
        deadline = time.monotonic() + timeout
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    ERR_NOT_READY.format(name=self.name, timeout=timeout, log=self.log)
                )
            time.sleep(0.2)

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a gunicorn master and its workers)."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)
            if signum == signal.SIGKILL:
                self.popen.wait()


def stop_all(processes: list[Process]) -> None:
    """SIGTERM to all at once (each finishes what it is doing), then wait; whatever is still
    there after STOP_TIMEOUT_SECONDS is killed with its group."""
    running = [process for process in processes if process.running]
    for process in running:
        process.kill(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        process.kill(signal.SIGKILL)
