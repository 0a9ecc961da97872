"""Running a child process safely: in a session of its own, so that a timeout or a cancelled
caller kills the whole process group (a ``sh -c`` and whatever it started), never leaving
orphans; its output goes to files, not pipes, so a background grandchild that keeps them open
cannot hold the caller up. Runbook commands, hooks, log sources and serving reloads use it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TAIL_BYTES = 16 * 1024
"""How much of a child's stdout and stderr is kept (the end: errors come last)."""

_TERM_GRACE_S = 2.0


@dataclass(frozen=True)
class ProcessResult:
    """How a child process ended: its exit code (negative: killed by that signal) and the tails
    of what it wrote."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float


def _tail(file: BinaryIO, limit: int) -> str:
    """The last ``limit`` bytes written to ``file``, as text ("…" first when cut)."""
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - limit))
    text = file.read(limit).decode("utf-8", errors="replace")
    return ("…" + text) if size > limit else text


class ProcessTimedOut(TimeoutError):
    """The child overran its time and was killed; ``result`` holds what it wrote before."""

    def __init__(self, result: ProcessResult) -> None:
        super().__init__(f"killed after {result.seconds:.1f}s")
        self.result = result


async def run_process(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout_s: float | None = None,
    tail_bytes: int = TAIL_BYTES,
) -> ProcessResult:
    """Run ``argv`` with ``env`` added to this process's environment; keep its output's tails.

    On timeout or cancellation the child's process group gets SIGTERM, then SIGKILL after a
    short grace; a timeout then raises `ProcessTimedOut` (a ``TimeoutError`` holding what the
    child wrote), a cancellation propagates. ``OSError`` (command not found,
    bad cwd) propagates unchanged.
    """
    started = time.monotonic()
    # Files, not pipes: a background grandchild that keeps its output open cannot hold us up.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=cwd,
            env={**os.environ, **env},
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(timeout_s):
                exit_code = await process.wait()
        except TimeoutError:
            await _kill_group(process)
            raise ProcessTimedOut(
                ProcessResult(
                    process.returncode or -signal.SIGKILL,
                    _tail(out, tail_bytes),
                    _tail(err, tail_bytes),
                    time.monotonic() - started,
                )
            ) from None
        except BaseException:
            await _kill_group(process)
            raise
        return ProcessResult(
            exit_code, _tail(out, tail_bytes), _tail(err, tail_bytes), time.monotonic() - started
        )


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the child's process group, SIGKILL it if the child outlives the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            async with asyncio.timeout(_TERM_GRACE_S):
                await process.wait()
        except TimeoutError:
            continue
        if sig is signal.SIGTERM:
            # The leader is gone; make sure nothing it started lingers in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        return


def describe_exit(result: ProcessResult) -> str:
    """``exit 3`` or ``killed by SIGKILL``."""
    if result.exit_code < 0:
        try:
            return f"killed by {signal.Signals(-result.exit_code).name}"
        except ValueError:
            return f"killed by signal {-result.exit_code}"
    return f"exit {result.exit_code}"


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` (what a failing command usually says), shortened."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
