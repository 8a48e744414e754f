"""Loading Falco rules files: reader (YAML -> items) -> collector (define/append/override) -> builder (Ruleset).

``load_rules(paths)`` reads every file in order into one collector. A file with an error is rolled back as a
whole and reported; when any file failed, no ruleset is published (``LoadResult.ruleset is None``).
"""
from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from syswarden import doctree
from syswarden.errors import RuleLoadError
from syswarden.rules.loader.builder import BuildCache, Builder
from syswarden.rules.loader.collector import ENGINE_VERSION, Collector
from syswarden.rules.loader.items import ListItem, MacroItem, RuleEnableItem, RuleItem, RuleUpdateItem
from syswarden.rules.loader.reader import Reader
from syswarden.rules.loader.result import ErrorCode, Issue, Location, LoadIssue, LoadResult
from syswarden.rules.ruleset import Ruleset
from syswarden.spans import SourceText, Span

__all__ = ["load_rules", "load_texts", "stock_rules_path", "LoadResult", "ENGINE_VERSION"]


def _field_exists(text: str) -> bool:
    """Whether an exception's field (``proc.name``, ``proc.aname[2]``) names a known field."""
    from syswarden.errors import SyswardenError
    from syswarden.rules.fields import registry

    match = re.fullmatch(r"([A-Za-z0-9_.]+)(?:\[(.*)\])?", text.strip())
    if match is None:
        return False
    try:
        registry.lookup(match.group(1), match.group(2))
    except SyswardenError:
        return False
    return True


def load_texts(texts: Sequence[SourceText], *, sources: Iterable[str] = ("syscall",), codegen: bool = True
               ) -> LoadResult:
    """Load rules from already-read texts (each named for its messages), in order.

    As Falco does for each rules file, the content loaded so far is compiled after every file, so each file
    gets its own verdict; a file that fails is rolled back and the next one continues from the state before it.
    ``codegen=False`` keeps the predicates as closures (``rules/compiler.py``): the same verdicts, found as
    early, for a load that only validates or lists and never judges an event.
    """
    result = LoadResult(names=[t.name for t in texts], sources={t.name: t for t in texts})
    collector = Collector(sources=frozenset(sources), is_valid_field=_field_exists)
    cache = BuildCache(codegen=codegen)
    ruleset = None
    for text in texts:
        snapshot = copy.deepcopy(collector)
        built = _load_one(text, collector, result, cache)
        if built is None:
            collector = snapshot
        else:
            ruleset = built
    if not result.errors and ruleset is not None:
        result.ruleset = ruleset
        result.skipped = list(ruleset.skipped)
    return result


def _load_one(text: SourceText, collector: Collector, result: LoadResult, cache: BuildCache) -> Ruleset | None:
    """Read, collect and compile one more file; issues go to ``result``; None when the file failed."""
    reader = Reader(text)
    before = len(collector.warnings)
    names: dict[str, set[str]] = {"rule": set(), "macro": set(), "list": set()}
    result.defined[text.name] = names
    items = reader.read()
    try:
        for item in items:
            _count(names, item)
            collector.add(item)
    except LoadIssue as issue:
        result.errors.append(dataclasses.replace(issue.issue, origin=text.name))
        _add_warnings(result, reader.warnings, text.name)
        _count_rest(names, items)
        return None
    _add_warnings(result, reader.warnings + collector.warnings[before:], text.name)
    builder = Builder(collector, result.sources, cache)
    try:
        ruleset = builder.build()
    except LoadIssue as issue:
        result.errors.append(dataclasses.replace(issue.issue, origin=text.name))
        return None
    finally:
        _add_warnings(result, builder.warnings, text.name)
    return ruleset


def _count(names: dict[str, set[str]], item: object) -> None:
    """The distinct rules, macros and lists a file names (``rules validate`` prints them per file)."""
    if isinstance(item, (RuleItem, RuleUpdateItem, RuleEnableItem)):
        names["rule"].add(item.name)
    elif isinstance(item, MacroItem):
        names["macro"].add(item.name)
    elif isinstance(item, ListItem):
        names["list"].add(item.name)


def _count_rest(names: dict[str, set[str]], items: Iterator[object]) -> None:
    """After a semantic error, the file's remaining items still count (a structural one ends the file)."""
    try:
        for item in items:
            _count(names, item)
    except LoadIssue:
        pass


def _add_warnings(result: LoadResult, warnings: list[Issue], origin: str) -> None:
    """Append warnings not reported already (each file's compile repeats the earlier files' ones)."""
    seen = {dataclasses.replace(w, origin="") for w in result.warnings}
    for warning in warnings:
        if warning not in seen:
            seen.add(warning)
            result.warnings.append(dataclasses.replace(warning, origin=origin))


def _expand_dirs(paths: Iterable[str | Path]) -> list[str | Path]:
    """A directory stands for its ``*.yaml``/``*.yml`` files in name order, as Falco's ``-r DIR`` does."""
    out: list[str | Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out += sorted((f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file()), key=str)
        else:
            out.append(path)
    return out


def stock_rules_path() -> Path:
    """The stock Falco rules shipped in the package (see ``rules/data/SOURCE.md``): what runs when no rules
    file is given."""
    from importlib import resources

    return Path(str(resources.files("syswarden.rules") / "data" / "falco_rules.yaml"))


def load_rules(paths: Iterable[str | Path], *, sources: Iterable[str] = ("syscall",), codegen: bool = True
               ) -> LoadResult:
    """Read and load rules files in order; unreadable files become ``LOAD_ERR_FILE_READ`` errors."""
    paths = _expand_dirs(paths)
    texts: list[SourceText] = []
    texts_sources: dict[str, SourceText] = {}     # undecodable files, kept so their error can quote the line
    unreadable: list[Issue] = []
    for path in paths:
        name = str(path)
        try:
            texts.append(doctree.read_source(path, RuleLoadError, what="rules file"))
        except RuleLoadError as err:
            span = err.span or Span(name, 0, 0)
            unreadable.append(Issue(ErrorCode.LOAD_ERR_FILE_READ, err.message,
                                    (Location("rules content", "", span),)))
            if err.source is not None:
                texts_sources[name] = err.source
    result = load_texts(texts, sources=sources, codegen=codegen)
    result.names = [str(p) for p in paths]      # directories stand for their files, listed one by one
    result.errors[:0] = unreadable
    result.sources.update(texts_sources)
    if unreadable:
        result.ruleset = None
    return result
