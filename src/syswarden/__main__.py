"""``python -m syswarden`` runs the CLI (a cached ``run`` on the light launch path, as the installed command)."""
from syswarden.cli.entry import main

main()
