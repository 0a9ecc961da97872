"""The runbooks Firewatch knows: the built-ins shipped in ``builtin/`` plus a configured directory.

A broken file in the directory does not stop the server: it is reported at start-up and by
`firewatch runbook list`, and an incident that needs it says so on its timeline and escalates.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import yaml

from firewatch.errors import ConfigError, NotFound
from firewatch.runbooks.schema import Runbook, load_runbook_file

BUILTIN = Path(__file__).parent / "builtin"
log = logging.getLogger(__name__)


class BrokenRunbook(ConfigError):
    """A runbook file that does not load; ``name`` is its ``name:`` if readable, else the stem."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="broken_runbook")


class RunbookLibrary:
    def __init__(self, runbooks: dict[str, Runbook], broken: dict[str, str] | None = None) -> None:
        self._runbooks = runbooks
        self.broken = dict(broken or {})
        self._by_alert: dict[str, str] = {}
        for runbook in runbooks.values():
            for alert in runbook.alert:
                self._by_alert.setdefault(alert, runbook.name)

    @classmethod
    def load(cls, directory: Path | None = None) -> RunbookLibrary:
        """Built-ins first; a file in ``directory`` with the same name replaces a built-in."""
        runbooks: dict[str, Runbook] = {}
        broken: dict[str, str] = {}
        for path in sorted(BUILTIN.glob("*.yaml")):
            runbook = load_runbook_file(path)  # a broken built-in is a bug: fail loudly
            runbooks[runbook.name] = runbook
        if directory is not None:
            if not directory.is_dir():
                raise ConfigError(f"runbooks.directory {directory} is not a directory")
            for path in sorted(directory.glob("*.y*ml")):
                try:
                    runbook = load_runbook_file(path)
                except ConfigError as exc:
                    name = _declared_name(path)
                    broken[name] = exc.message
                    runbooks.pop(name, None)
                    log.error("runbook %s cannot be used: %s", name, exc.message)
                    continue
                runbooks[runbook.name] = runbook
                broken.pop(runbook.name, None)
        return cls(runbooks, broken)

    def names(self) -> list[str]:
        return sorted(self._runbooks)

    def get(self, name: str) -> Runbook:
        if name in self.broken:
            raise BrokenRunbook(self.broken[name])
        try:
            return self._runbooks[name]
        except KeyError:
            raise NotFound(
                f"no runbook named {name!r} (known: {', '.join(self.names())})",
                code="unknown_runbook",
            ) from None

    def known(self, name: str) -> bool:
        """Whether ``name`` is a runbook, loaded or broken (config references may name it)."""
        return name in self._runbooks or name in self.broken

    def for_alert(self, alertname: str) -> str | None:
        """The runbook bound to an alert (its ``alert:`` list), if any."""
        return self._by_alert.get(alertname)

    def response_time(self, name: str) -> timedelta | None:
        runbook = self._runbooks.get(name)
        return runbook.response_time if runbook else None


def _declared_name(path: Path) -> str:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return path.stem
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else path.stem
