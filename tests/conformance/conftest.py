"""Conformance fixtures: the fields layer's user/group resolvers are restored after each test."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_account_resolvers() -> Iterator[None]:
    yield
    from syswarden.rules.fields.group import set_group_resolver
    from syswarden.rules.fields.user import set_user_resolver

    set_user_resolver(None)
    set_group_resolver(None)
