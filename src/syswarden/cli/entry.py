"""The ``syswarden`` program: a cached ``run`` launches on the light path (``fast_run.py``, no click); every
other command line goes to the click CLI (``main.py``)."""
from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["run"]:
        from syswarden.cli import fast_run
        fast_run.main_run(args[1:])
    from syswarden.cli.main import main as click_main
    click_main()
