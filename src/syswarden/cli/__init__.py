"""The ``syswarden`` command line (click). One module per command group; ``main.py`` wires them lazily."""
