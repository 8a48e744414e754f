"""``python -m syswarden`` runs the CLI."""
from syswarden.cli.main import main

main()
