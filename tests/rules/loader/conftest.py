"""Helpers for loader tests: run reader + collector on inline YAML."""
from __future__ import annotations

import textwrap

import pytest

from syswarden.rules.loader.collector import Collector
from syswarden.rules.loader.reader import Reader
from syswarden.spans import SourceText


def collect(*texts: str) -> tuple[Collector, list]:
    """Feed each text (one file each, dedented) through a Reader into one Collector."""
    collector = Collector()
    warnings: list = []
    for i, text in enumerate(texts):
        reader = Reader(SourceText(f"f{i}.yaml", textwrap.dedent(text)))
        for item in reader.read():
            collector.add(item)
        warnings += reader.warnings
    return collector, warnings + collector.warnings


@pytest.fixture(name="collect")
def collect_fixture():
    """The ``collect`` helper as a fixture."""
    return collect
