"""Loading Falco rules files: reader (YAML -> items) -> collector (define/append/override) -> builder (Ruleset).

``load_rules(paths)`` reads every file in order into one collector. A file with an error is rolled back as a
whole and reported; when any file failed, no ruleset is published (``LoadResult.ruleset is None``).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path

from syswarden.rules.loader.builder import Builder
from syswarden.rules.loader.collector import ENGINE_VERSION, Collector
from syswarden.rules.loader.reader import Reader
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, LoadResult
from syswarden.spans import SourceText, Span

__all__ = ["load_rules", "load_texts", "LoadResult", "ENGINE_VERSION"]


def _field_exists(name: str) -> bool:
    try:
        from syswarden.rules.fields import registry
    except ImportError:           # the field registry is optional while the filter layer is being built
        return True
    try:
        registry.lookup(name, None)
    except Exception:  # noqa: BLE001 -- any lookup failure means "not a field"
        return False
    return True


def load_texts(texts: Sequence[SourceText], *, sources: Iterable[str] = ("syscall",)) -> LoadResult:
    """Load rules from already-read texts (each named for its messages), in order."""
    result = LoadResult(names=[t.name for t in texts], sources={t.name: t for t in texts})
    collector = Collector(sources=frozenset(sources), is_valid_field=_field_exists)
    for text in texts:
        snapshot = copy.deepcopy(collector)
        reader = Reader(text)
        try:
            for item in reader.read():
                collector.add(item)
        except LoadIssue as issue:
            result.errors.append(issue.issue)
            collector = snapshot
        result.warnings.extend(reader.warnings)
    result.warnings.extend(collector.warnings)
    if result.errors:
        return result
    builder = Builder(collector, result.sources)
    try:
        ruleset = builder.build()
    except LoadIssue as issue:
        result.errors.append(issue.issue)
    else:
        result.ruleset = ruleset
        result.skipped = list(ruleset.skipped)
    result.warnings.extend(builder.warnings)
    return result


def load_rules(paths: Iterable[str | Path], *, sources: Iterable[str] = ("syscall",)) -> LoadResult:
    """Read and load rules files in order; unreadable files become ``LOAD_ERR_FILE_READ`` errors."""
    paths = list(paths)
    texts: list[SourceText] = []
    unreadable: list[Issue] = []
    for path in paths:
        name = str(path)
        try:
            texts.append(SourceText(name, Path(path).read_text(encoding="utf-8", errors="surrogateescape")))
        except OSError as exc:
            where = (Location("rules content", "", Span(name, 0, 0)),)
            unreadable.append(Issue(ErrorCode.LOAD_ERR_FILE_READ, f"Could not read file: {exc.strerror}", where))
    result = load_texts(texts, sources=sources)
    result.names = [str(p) for p in paths]
    result.errors[:0] = unreadable
    if unreadable:
        result.ruleset = None
    return result
