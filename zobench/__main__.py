"""``python -m zobench`` runs the command line."""

from zobench.cli import main

main()
