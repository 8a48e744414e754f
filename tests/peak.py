"""Peak memory of a child Python, measured so that the parent's size does not count.

``getrusage(RUSAGE_SELF).ru_maxrss`` is the wrong measure in a child: Linux keeps the high-water mark of the
address space the child had *before* its exec (a fork of a pytest process of a few hundred MB), so a child that
used 20 MB reported 238 MB in a full suite run. ``VmHWM`` in ``/proc/self/status`` is the high-water mark of the
current address space only, which starts at the exec.
"""
from __future__ import annotations

#: A Python expression a child evaluates at its end: its own peak resident set, in kB.
PEAK_KB_EXPR = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])"
