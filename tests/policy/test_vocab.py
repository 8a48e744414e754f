"""The shared policy vocabulary: errno names, action spellings, flags."""
from __future__ import annotations

import errno

import pytest

from syswarden.policy import vocab
from syswarden.policy.model import Action, ActionKind


@pytest.mark.parametrize(("text", "number"), [("EPERM", 1), ("enosys", errno.ENOSYS), ("13", 13), ("0x26", 38),
                                              (5, 5), ("EFOO", None), ("70000", None), (-1, None), ("", None)])
def test_errno_number(text: str | int, number: int | None) -> None:
    """Names, decimal and hex strings and ints map to errno numbers; junk and out-of-range give None."""
    assert vocab.errno_number(text) == number


@pytest.mark.parametrize("action", [Action(ActionKind.ERRNO, 1), Action(ActionKind.ERRNO, 4000),
                                    Action(ActionKind.TRACE, 9), Action(ActionKind.KILL_THREAD),
                                    Action(ActionKind.NOTIFY), Action(ActionKind.ALLOW)])
def test_format_then_parse_is_identity(action: Action) -> None:
    """format_action's spelling parses back to the same action."""
    assert vocab.parse_action(vocab.format_action(action)) == action


def test_data_on_data_less_actions_is_refused() -> None:
    """allow(1) and {log: 3} are not actions."""
    assert vocab.parse_action("allow(1)") is None
    assert vocab.parse_action("log", 3) is None
    assert vocab.format_action(Action(ActionKind.ERRNO, 1)) == "errno(EPERM)"


def test_flags_have_oci_names() -> None:
    """Every short flag name has its SECCOMP_FILTER_FLAG_* spelling and back."""
    assert all(vocab.FLAG_OF_OCI[oci] == short for short, oci in vocab.FLAGS.items())
