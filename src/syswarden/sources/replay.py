"""The replay source: events from a JSON Lines recording (``events/jsonl.py``), for tests and offline runs.

The file's thread and fd records are the initial snapshot (``initial_threads()``); its events follow
(``events()``). A thread or fd record after the first event is an error, because state is seeded once.
"""
from __future__ import annotations

import io
from collections.abc import Iterator

from syswarden.errors import CaptureError, InputError
from syswarden.events.event import Event, ThreadInfo
from syswarden.events.jsonl import FdRecord, JsonlReader
from syswarden.events.records import LineError, check_param_values
from syswarden.sources.base import SourceConfig, SourceStats
from syswarden.input_file import open_regular
from syswarden.spans import Span


class ReplaySource:
    """Replays ``config.path``. Only events whose type is in ``config.event_types`` (when given) are yielded, and
    only with parameter values of the types the event table gives them (else a positioned ``CaptureError``).

    ``warnings`` collects non-fatal problems (a truncated last line); ``stats.skipped`` counts them.
    """

    def __init__(self, config: SourceConfig) -> None:
        if not config.path:
            raise InputError("the replay source needs a file: give the path of a .jsonl recording")
        self.config = config
        self.stats = SourceStats()
        self.warnings: list[CaptureError] = []
        self._file = io.TextIOWrapper(open_regular(config.path, CaptureError, what="replay file"), encoding="utf-8",
                                      errors="surrogateescape", newline="\n")
        try:
            self._reader = JsonlReader(self._file, name=config.path)
        except BaseException:
            self._file.close()
            raise
        self.hostname = self._reader.header.hostname
        self._records = iter(self._reader)
        self._threads: dict[int, ThreadInfo] | None = None
        self._first_event: Event | None = None

    def initial_threads(self) -> Iterator[ThreadInfo]:
        """The threads of the snapshot, each with its fds attached."""
        return iter(self._snapshot().values())

    def _snapshot(self) -> dict[int, ThreadInfo]:
        if self._threads is not None:
            return self._threads
        self._threads = {}
        for rec in self._records:
            if isinstance(rec, Event):
                self._first_event = rec
                break
            self._add_snapshot_record(rec)
        self._collect_warnings()
        return self._threads

    def _add_snapshot_record(self, rec: object) -> None:
        assert self._threads is not None
        if isinstance(rec, ThreadInfo):
            self._threads[rec.tid] = rec
        elif isinstance(rec, FdRecord):
            thread = self._threads.get(rec.tid)
            if thread is None:
                raise self._error(f"fd record for unknown tid {rec.tid}; expected a thread record with that tid "
                                  "before it")
            thread.fds[rec.fd.num] = rec.fd

    def events(self) -> Iterator[Event]:
        """The recorded events in file order. A malformed record ends the replay after every event before it,
        counted in ``stats.skipped`` and raised as a positioned ``CaptureError``."""
        self._snapshot()
        wanted = self.config.event_types
        pending = [self._first_event] if self._first_event is not None else []
        self._first_event = None
        try:
            for rec in _chain(pending, self._records):
                if not isinstance(rec, Event):
                    raise self._error(f"{type(rec).__name__} record after the first event; thread and fd records "
                                      "form the initial snapshot and must come before every event")
                if wanted is None or rec.type in wanted:
                    try:
                        check_param_values(rec.type, rec.params)    # what rules, state and writers rely on
                    except LineError as err:
                        raise self._error(str(err)) from None
                    self.stats.events += 1
                    yield rec
        except CaptureError:
            self.stats.skipped += 1
            raise
        self._collect_warnings()

    def _collect_warnings(self) -> None:
        new = self._reader.warnings[len(self.warnings):]
        self.warnings.extend(new)
        self.stats.skipped += len(new)

    def _error(self, message: str) -> CaptureError:
        return CaptureError(message, span=Span(self._reader.name, self._reader.lineno, 1))

    def close(self) -> None:
        """Close the recording."""
        self._file.close()


def _chain(first: list[Event], rest: Iterator[object]) -> Iterator[object]:
    yield from first
    yield from rest


__all__ = ["ReplaySource"]
