"""The ptrace source sees i386 (int 0x80) and x32 syscalls of 64-bit tasks under the 64-bit event names
(from PTRACE_GET_SYSCALL_INFO's arch)."""
from __future__ import annotations

import pytest

from ..compat_calls import CompatSuite

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("ptrace_ok")]


class TestPtraceCompat(CompatSuite):
    source = "ptrace"
