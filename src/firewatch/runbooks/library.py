"""The runbooks Firewatch knows: the built-ins shipped in ``builtin/`` plus a configured directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from firewatch.errors import ConfigError, NotFound
from firewatch.runbooks.schema import Runbook, load_runbook_file

BUILTIN = Path(__file__).parent / "builtin"


class RunbookLibrary:
    def __init__(self, runbooks: dict[str, Runbook]) -> None:
        self._runbooks = runbooks

    @classmethod
    def load(cls, directory: Path | None = None) -> RunbookLibrary:
        """Built-ins first; a file in ``directory`` with the same name replaces a built-in."""
        runbooks: dict[str, Runbook] = {}
        paths = sorted(BUILTIN.glob("*.yaml"))
        if directory is not None:
            if not directory.is_dir():
                raise ConfigError(f"runbooks.directory {directory} is not a directory")
            paths += sorted(directory.glob("*.y*ml"))
        for path in paths:
            runbook = load_runbook_file(path)
            runbooks[runbook.name] = runbook
        return cls(runbooks)

    def names(self) -> list[str]:
        return sorted(self._runbooks)

    def get(self, name: str) -> Runbook:
        try:
            return self._runbooks[name]
        except KeyError:
            raise NotFound(
                f"no runbook named {name!r} (known: {', '.join(self.names())})",
                code="unknown_runbook",
            ) from None

    def response_time(self, name: str) -> timedelta | None:
        runbook = self._runbooks.get(name)
        return runbook.response_time if runbook else None
