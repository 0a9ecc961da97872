"""``python -m firewatch`` runs the CLI."""

from firewatch.cli.main import main

main()
