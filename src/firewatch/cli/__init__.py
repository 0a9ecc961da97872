"""The ``firewatch`` command line (Typer + Rich): one Typer app per noun."""
