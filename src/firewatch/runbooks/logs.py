"""A model service's recent log lines — from a file, a command or an HTTP endpoint — with the
crash, database and application error lines picked out (the seed's "check logs for errors").

Usage: ``evidence = await collect_logs(model.logs, client=client)``; ``evidence.summary()``
reads like "3 crash lines (OOMKilled), 1 database error". A source that fails (missing file,
non-zero exit, HTTP error, timeout) gives ``evidence.read.problem``, never an exception.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from firewatch.config import LogSourceConfig
from firewatch.process import ProcessTimedOut, last_line, run_process


class LogCategory(StrEnum):
    """Kinds of error line, most specific first: a line counts once, under the first it matches."""

    DATABASE = "database"
    CRASH = "crash"
    APPLICATION = "application"


DEFAULT_PATTERNS: dict[LogCategory, str] = {
    LogCategory.DATABASE: (
        r"(?i)connection refused.*\b(?:5432|3306|6379|27017)\b"
        r"|\b(?:5432|3306|6379|27017)\b.*connection refused"
        r"|could not connect to server|can't connect to mysql server|OperationalError"
        r"|too many connections|database \S+ (?:is )?(?:unavailable|locked)"
        r"|QueuePool limit|ECONNREFUSED"
    ),
    LogCategory.CRASH: (
        r"OOMKilled|\bKilled\b|Segmentation fault|core dumped|\b(?i:panic)(?:ked)?\b"
        r"|Traceback|Fatal Python error|CrashLoopBackOff|Back-off restarting failed container"
        r"|exited with code [1-9]\d*"
    ),
    LogCategory.APPLICATION: (
        r"\bERROR\b|\w*Exception\b|\b\w+Error:|(?:^|\s)5\d\d\s(?!ms\b)"
        r"|(?i:\"level\"\s*:\s*\"(?:error|fatal|critical)\")"
    ),
}
"""Defaults per category; ``logs.patterns`` in the config replaces a category's regex."""

NOUNS = {
    LogCategory.CRASH: ("crash line", "crash lines"),
    LogCategory.DATABASE: ("database error", "database errors"),
    LogCategory.APPLICATION: ("application error", "application errors"),
}
SHOWN_ORDER = (LogCategory.CRASH, LogCategory.DATABASE, LogCategory.APPLICATION)
MAX_LINE = 2_000  # characters kept of one line
MAX_MATCHES = 20  # lines kept per category (the newest); counts cover them all
TAIL_KEPT = 100  # lines of the tail kept on the timeline
MAX_BYTES = 8 * 1024 * 1024  # read at most this much of a source
CHUNK = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LogSourceError(Exception):
    """The source could not be read; the message says why, for the person on call."""


@dataclass(frozen=True)
class LogRead:
    """What one source gave: its last lines, and what went wrong if anything did."""

    source: str
    lines: list[str]
    problem: str | None = None


@dataclass(frozen=True)
class ErrorLines:
    """Error lines per category (the newest ``MAX_MATCHES``), their counts and commonest match."""

    matches: dict[LogCategory, list[str]] = field(default_factory=dict)
    counts: dict[LogCategory, int] = field(default_factory=dict)
    top: dict[LogCategory, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """``3 crash lines (OOMKilled), 1 database error``; empty when there are none."""
        parts = []
        for category in SHOWN_ORDER:
            count = self.counts.get(category, 0)
            if count:
                singular, plural = NOUNS[category]
                top = self.top.get(category)
                parts.append(
                    f"{count} {singular if count == 1 else plural}" + (f" ({top})" if top else "")
                )
        return ", ".join(parts)


def compile_patterns(
    overrides: Mapping[str, str] | None = None,
) -> dict[LogCategory, re.Pattern[str]]:
    """The default patterns with ``overrides`` (category name → regex) in their place."""
    chosen = {**DEFAULT_PATTERNS, **{LogCategory(k): v for k, v in (overrides or {}).items()}}
    return {category: re.compile(chosen[category]) for category in LogCategory}


def find_errors(
    lines: Iterable[str], *, patterns: Mapping[LogCategory, re.Pattern[str]]
) -> ErrorLines:
    """Sort error lines into categories, each line under the most specific one it matches."""
    kept: dict[LogCategory, deque[str]] = {c: deque(maxlen=MAX_MATCHES) for c in LogCategory}
    counts: Counter[LogCategory] = Counter()
    tokens: dict[LogCategory, Counter[str]] = {c: Counter() for c in LogCategory}
    for line in lines:
        for category in LogCategory:  # most specific first
            found = patterns[category].search(line)
            if found is not None:
                kept[category].append(line)
                counts[category] += 1
                tokens[category][_token(found.group(0))] += 1
                break
    return ErrorLines(
        matches={c: list(kept[c]) for c in LogCategory if counts[c]},
        counts={c: counts[c] for c in LogCategory if counts[c]},
        top={c: tokens[c].most_common(1)[0][0] for c in LogCategory if counts[c]},
    )


def _token(text: str) -> str:
    token = text.strip().rstrip(":").strip()
    return token if len(token) <= 40 else token[:39] + "…"


@dataclass(frozen=True)
class LogEvidence:
    """A source's read and the error lines found in it."""

    read: LogRead
    errors: ErrorLines

    def summary(self) -> str:
        """One phrase for the investigation line, e.g. ``logs: 3 crash lines (OOMKilled)``."""
        found = self.errors.describe()
        if found:
            return f"logs: {found}"
        if self.read.problem and not self.read.lines:
            return "logs unavailable (see problems)"
        return f"logs: no error lines in the last {len(self.read.lines)}"

    def details(self) -> dict[str, Any]:
        """The timeline's ``logs`` section: source, tail, matches and counts per category."""
        return {
            "source": self.read.source,
            "lines": self.read.lines[-TAIL_KEPT:],
            "lines_read": len(self.read.lines),
            "matches": {c.value: self.errors.matches.get(c, []) for c in SHOWN_ORDER},
            "counts": {c.value: self.errors.counts.get(c, 0) for c in SHOWN_ORDER},
            "category": next((c.value for c in LogCategory if c in self.errors.counts), None),
            "problem": self.read.problem,
        }


async def collect_logs(
    config: LogSourceConfig, *, client: httpx.AsyncClient, lines: int | None = None
) -> LogEvidence:
    """Read the source's last lines and pick out the error lines; failures go in ``problem``."""
    read = await read_logs(config, client=client, lines=lines)
    return LogEvidence(
        read,
        find_errors(
            read.lines, patterns=compile_patterns({str(k): v for k, v in config.patterns.items()})
        ),
    )


def describe_source(config: LogSourceConfig) -> str:
    """How the person on call would name the source: a path, a command line or a URL."""
    if config.file is not None:
        return f"file {config.file}"
    if config.command is not None:
        return f"command `{shlex.join(config.command)}`"
    return f"GET {config.url}"


async def read_logs(
    config: LogSourceConfig, *, client: httpx.AsyncClient, lines: int | None = None
) -> LogRead:
    """The source's last ``lines`` lines (default ``config.lines``); never raises."""
    count = lines or config.lines
    timeout = config.timeout.total_seconds()
    source = describe_source(config)
    try:
        if config.file is not None:
            path = config.file
            try:
                async with asyncio.timeout(timeout):
                    found = await asyncio.to_thread(lambda: tail_file(path, count=count))
            except TimeoutError:
                raise LogSourceError(f"reading {source} took longer than {timeout:g}s") from None
            return LogRead(source, found)
        if config.command is not None:
            found, problem = await run_command(config.command, count=count, timeout=timeout)
            return LogRead(source, found, problem)
        found = await get_url(
            client, url=str(config.url), count=count, timeout=timeout, token=_token_of(config)
        )
        return LogRead(source, found)
    except LogSourceError as exc:
        return LogRead(source, [], str(exc))


def _token_of(config: LogSourceConfig) -> str | None:
    if config.bearer_token_env is None:
        return None
    token = os.environ.get(config.bearer_token_env)
    if not token:
        raise LogSourceError(
            f"logs.bearer_token_env names {config.bearer_token_env}, which is not set in "
            "Firewatch's environment"
        )
    return token


def _clean(raw: str) -> str:
    line = _ANSI.sub("", raw.rstrip("\r"))
    return line if len(line) <= MAX_LINE else line[:MAX_LINE] + "…"


def _split(text: str, count: int) -> list[str]:
    return [_clean(line) for line in text.splitlines()[-count:]]


def tail_file(path: Path, *, count: int) -> list[str]:
    """The last ``count`` lines of ``path``, read backwards in blocks (never the whole file)."""
    try:
        with path.open("rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            position, data = end, b""
            while position > 0 and data.count(b"\n") <= count and end - position < MAX_BYTES:
                step = min(CHUNK, position)
                position -= step
                handle.seek(position)
                data = handle.read(step) + data
    except FileNotFoundError:
        raise LogSourceError(f"log file {path} does not exist") from None
    except IsADirectoryError:
        raise LogSourceError(f"log file {path} is a directory, not a file") from None
    except PermissionError:
        raise LogSourceError(
            f"Firewatch may not read log file {path} (permission denied)"
        ) from None
    except OSError as exc:
        raise LogSourceError(f"cannot read log file {path}: {exc.strerror or exc}") from None
    lines = data.decode("utf-8", errors="replace").splitlines()
    if position > 0 and lines:
        lines = lines[1:]  # the first line read is cut off at the block boundary
    return [_clean(line) for line in lines[-count:]]


async def run_command(
    argv: list[str], *, count: int, timeout: float
) -> tuple[list[str], str | None]:
    """The last ``count`` lines ``argv`` prints, and a problem when it fails or overruns
    ``timeout`` (then its whole process group is killed; what it printed is kept)."""
    command = f"`{shlex.join(argv)}`"
    try:
        result = await run_process(argv, env={}, timeout_s=timeout, tail_bytes=MAX_BYTES)
    except ProcessTimedOut as exc:
        lines = _split(exc.result.stdout, count)
        return lines, f"command {command} did not finish within {timeout:g}s and was killed" + (
            _kept(lines)
        )
    except FileNotFoundError:
        raise LogSourceError(
            f"command {argv[0]!r} not found (is it installed and on Firewatch's PATH?)"
        ) from None
    except PermissionError:
        raise LogSourceError(f"command {argv[0]!r} is not executable") from None
    lines = _split(result.stdout, count)
    code = result.exit_code
    if code == 0:
        return lines, None
    said = _clean(last_line(result.stderr))
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return lines, f"command {command} {how}" + (f": {said}" if said else "") + _kept(lines)


def _kept(lines: list[str]) -> str:
    plural = "s" if len(lines) != 1 else ""
    return f"; kept the {len(lines)} line{plural} it printed" if lines else ""


async def get_url(
    client: httpx.AsyncClient, *, url: str, count: int, timeout: float, token: str | None
) -> list[str]:
    """The last ``count`` lines an HTTP endpoint answers: plain text, a JSON list of lines, or a
    JSON object with a ``lines`` list."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = bytearray()
    try:
        async with (
            asyncio.timeout(timeout),
            client.stream("GET", url, headers=headers, timeout=timeout) as response,
        ):
            if not response.is_success:
                raise LogSourceError(f"GET {url} answered {_status(response)}")
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BYTES:  # keep the end: that is where the newest lines are
                    del body[: len(body) - MAX_BYTES]
            kind = response.headers.get("content-type", "")
    except TimeoutError:
        raise LogSourceError(f"GET {url} did not answer within {timeout:g}s") from None
    except httpx.TimeoutException:
        raise LogSourceError(f"GET {url} did not answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise LogSourceError(f"GET {url} failed: {exc or type(exc).__name__}") from None
    text = body.decode("utf-8", errors="replace")
    if "json" in kind or text.lstrip()[:1] in ("[", "{"):
        return _json_lines(url, text, count)
    return _split(text, count)


def _status(response: httpx.Response) -> str:
    status = f"{response.status_code} {response.reason_phrase}".strip()
    if response.is_redirect:
        return status + " (redirects are not followed: point logs.url at the final address)"
    return status


def _json_lines(url: str, text: str, count: int) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _split(text, count)  # text that merely starts with a bracket
    if isinstance(data, dict) and isinstance(data.get("lines"), list):
        data = data["lines"]
    if not isinstance(data, list):
        raise LogSourceError(
            f"GET {url} answered JSON that is not a list of lines (nor an object with 'lines')"
        )
    lines = [item if isinstance(item, str) else json.dumps(item) for item in data[-count:]]
    return [_clean(line) for line in lines]
