"""The eBPF source sees i386 (int 0x80) and x32 syscalls of 64-bit tasks under the 64-bit event names
(in the kernel: compat calls are filtered by their own numbers)."""
from __future__ import annotations

import pytest

from ..compat_calls import CompatSuite

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("ebpf")]


class TestEbpfCompat(CompatSuite):
    source = "ebpf"
