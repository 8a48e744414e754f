"""Program alerts: each alert written as one line to a command's standard input, as Falco's ``program_output``.

The command runs through ``sh -c`` as in Falco. With ``keep_alive`` one long-running process is fed every alert;
when it dies (killed, crashed, exited) the next write fails with a broken pipe, the sink raises ``OutputError``
and the queue's worker retries that alert after a backoff, which restarts the program: the alert that found
the program dead is delivered to its successor. Alerts the old process had read from the pipe but not yet
handled die with it (a pipe has no acknowledgement); ``restarts`` counts how often that window opened.
Without ``keep_alive`` a process is started per alert, its stdin closed after the line and its exit awaited,
as Falco does (slow: one fork and exec per alert).

The program runs in its own process group, so closing the output can stop its whole pipeline
(``sh -c 'jq ... | curl ...'``): stdin is closed first, then after ``grace`` seconds the group is terminated.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time

from syswarden.errors import OutputError
from syswarden.rules.alert import Alert, AlertFormat


class ProgramOutput:
    """Feeds alerts to ``sh -c program`` (one process, or one per alert without ``keep_alive``)."""

    def __init__(self, program: str, *, alert_format: AlertFormat | None = None, keep_alive: bool = True,
                 grace: float = 2.0) -> None:
        self.program = program
        self.alert_format = alert_format or AlertFormat()
        self.keep_alive = keep_alive
        self.grace = grace
        self.started = 0
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", self.program], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise OutputError(f"cannot start program {self.program!r}: {exc.strerror}") from exc
        if self.started:
            self.restarts += 1
        self.started += 1
        return proc

    def emit(self, alert: Alert) -> None:
        data = (alert.render(self.alert_format) + "\n").encode("utf-8", "backslashreplace")
        if not self.keep_alive:
            self._run_once(data)
            return
        if self._proc is not None and self._proc.poll() is not None:
            self._reap()
        if self._proc is None:
            self._proc = self._start()
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            status = self._reap()
            raise OutputError(f"program {self.program!r} is gone ({status}); restarting it") from exc

    def _run_once(self, data: bytes) -> None:
        proc = self._start()
        try:
            proc.communicate(data, timeout=max(self.grace, 1.0) * 5)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            raise OutputError(f"program {self.program!r} did not finish with one alert") from exc
        except (BrokenPipeError, OSError) as exc:
            raise OutputError(f"program {self.program!r} did not read the alert: {exc}") from exc
        if proc.returncode:
            raise OutputError(f"program {self.program!r} exited with status {proc.returncode}")

    def _reap(self) -> str:
        """Forget the dead (or dying) process; its exit status for the message."""
        proc, self._proc = self._proc, None
        if proc is None:
            return "not running"
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            code = proc.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            code = proc.wait()
        return f"signal {-code}" if code < 0 else f"exit status {code}"

    def counters(self) -> dict[str, int]:
        return {"restarts": self.restarts}

    def reopen(self) -> None:
        """Nothing to reopen: the program keeps running."""

    def close(self) -> None:
        """Close its stdin (end of input), wait ``grace`` seconds, then stop its process group."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        end = time.monotonic() + self.grace
        while proc.poll() is None and time.monotonic() < end:
            time.sleep(0.02)
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
