"""Classic BPF for seccomp: compile a checked policy, emulate, disassemble and explain the result."""
from __future__ import annotations
