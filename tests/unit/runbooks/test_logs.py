"""Log sources — a real file, real commands, a real HTTP server — and the error lines picked out
of what they give: crash, database and application, each line under its most specific kind."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from firewatch.config import LogSourceConfig
from firewatch.runbooks.logs import (
    LogCategory,
    collect_logs,
    compile_patterns,
    find_errors,
    read_logs,
    tail_file,
)
from support.servers import serve_in_thread

SERVICE_LOG = [
    "2026-01-15T14:29:58Z INFO  serving v3 on :8080",
    "2026-01-15T14:29:59Z INFO  POST /predict 200 took 500 ms",
    "2026-01-15T14:30:00Z ERROR predict failed: ValueError: could not convert string to float",
    "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) could not connect to server",
    "Traceback (most recent call last):",
    '  File "/app/serve.py", line 42, in predict',
    "Last State: Terminated, Reason: OOMKilled, Exit Code: 137",
    "Warning  BackOff  kubelet  Back-off restarting failed container",
    "2026-01-15T14:30:02Z ERROR OOMKilled: worker 3 exceeded its 2Gi memory limit",
    '10.0.0.7 - - "POST /predict HTTP/1.1" 503 19',
]


def source(**fields: Any) -> LogSourceConfig:
    return LogSourceConfig.model_validate(fields)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def test_each_error_line_counts_once_under_its_most_specific_kind() -> None:
    found = find_errors(SERVICE_LOG, patterns=compile_patterns())
    assert found.matches[LogCategory.DATABASE] == [SERVICE_LOG[3]]
    assert found.matches[LogCategory.CRASH] == [
        SERVICE_LOG[4],
        SERVICE_LOG[6],
        SERVICE_LOG[7],
        SERVICE_LOG[8],  # ERROR and OOMKilled: a crash, not also an application error
    ]
    assert found.matches[LogCategory.APPLICATION] == [SERVICE_LOG[2], SERVICE_LOG[9]]
    assert found.total == 7  # "took 500 ms" and the INFO lines are no errors
    assert found.describe() == (
        "4 crash lines (OOMKilled), 1 database error (OperationalError), "
        "2 application errors (ERROR)"
    )


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("connect to 10.0.0.5:5432 failed: Connection refused", LogCategory.DATABASE),
        ("Error: connect ECONNREFUSED 127.0.0.1:6379", LogCategory.DATABASE),
        ("FATAL: sorry, too many connections for role app", LogCategory.DATABASE),
        ("sqlite3.OperationalError: database is locked", LogCategory.DATABASE),
        ("Segmentation fault (core dumped)", LogCategory.CRASH),
        ("panic: runtime error: index out of range", LogCategory.CRASH),
        ("container model exited with code 137", LogCategory.CRASH),
        ("pod iris-7c9 CrashLoopBackOff", LogCategory.CRASH),
        ('{"level": "error", "msg": "bad input"}', LogCategory.APPLICATION),
        ("java.lang.IllegalStateException", LogCategory.APPLICATION),
        ("container model exited with code 0", None),
        ("GET /health 200 took 503 ms", None),
    ],
)
def test_default_patterns(line: str, kind: LogCategory | None) -> None:
    found = find_errors([line], patterns=compile_patterns())
    assert list(found.counts) == ([kind] if kind else [])


def test_a_configured_pattern_replaces_the_default_of_its_kind() -> None:
    patterns = compile_patterns({"application": r"\bWARN\b"})
    found = find_errors(["WARN slow feature store", "ERROR boom"], patterns=patterns)
    assert found.matches == {LogCategory.APPLICATION: ["WARN slow feature store"]}


def test_log_source_config_names_what_is_wrong() -> None:
    problems: dict[str, dict[str, Any]] = {
        "exactly one of file, command or url (got file and url)": {
            "file": "/var/log/x.log",
            "url": "http://127.0.0.1:1/logs",
        },
        "exactly one of file, command or url": {},
        "command is an argv list": {"command": "kubectl logs deploy/iris"},
        "patterns.crash: '(' is not a valid regular expression": {
            "file": "x.log",
            "patterns": {"crash": "("},
        },
        "bearer_token_env is only used with url": {"file": "x", "bearer_token_env": "T"},
        "logs.command is empty": {"command": []},
    }
    for message, fields in problems.items():
        with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
            source(**fields)


def test_the_tail_of_a_large_file_is_read_from_the_end(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("".join(f"line {i} {'x' * 50}\n" for i in range(200_000)))  # ~12 MB
    started = time.perf_counter()
    lines = tail_file(log, count=200)
    assert time.perf_counter() - started < 0.1  # a seek, not a read of 12 MB
    assert len(lines) == 200
    assert lines[0].startswith("line 199800 ") and lines[-1].startswith("line 199999 ")
    short = tmp_path / "short.log"
    short.write_text("one\ntwo\nthree")  # no final newline
    assert tail_file(short, count=2) == ["two", "three"]
    assert tail_file(short, count=10) == ["one", "two", "three"]


async def test_file_source_problems_are_reported_not_raised(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    missing = await read_logs(source(file=str(tmp_path / "gone.log")), client=client)
    assert missing.lines == []
    assert missing.problem == f"log file {tmp_path / 'gone.log'} does not exist"
    directory = await read_logs(source(file=str(tmp_path)), client=client)
    assert directory.problem == f"log file {tmp_path} is a directory, not a file"


async def test_a_command_that_fails_keeps_its_output_and_says_why(
    client: httpx.AsyncClient,
) -> None:
    script = "echo 'OOMKilled: worker 1'; echo 'pods \"iris\" not found' >&2; exit 3"
    evidence = await collect_logs(source(command=["sh", "-c", script]), client=client)
    assert evidence.read.lines == ["OOMKilled: worker 1"]
    problem = evidence.read.problem or ""
    assert problem.startswith("command `sh -c ")
    assert problem.endswith('exited with code 3: pods "iris" not found; kept the 1 line it printed')
    assert evidence.summary() == "logs: 1 crash line (OOMKilled)"


async def test_a_command_keeps_only_its_last_lines(client: httpx.AsyncClient) -> None:
    read = await read_logs(source(command=["sh", "-c", "seq 1 5000"], lines=3), client=client)
    assert read.lines == ["4998", "4999", "5000"]
    assert read.problem is None


async def test_a_command_that_hangs_is_killed_with_its_children(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    pids = tmp_path / "child.pid"
    script = f"echo started; sleep 30 & echo $! > {pids}; wait"
    started = time.monotonic()
    read = await read_logs(source(command=["sh", "-c", script], timeout="300ms"), client=client)
    assert time.monotonic() - started < 5
    assert read.lines == ["started"]
    assert read.problem is not None
    assert "did not finish within 0.3s and was killed; kept the 1 line it printed" in read.problem
    child = int(pids.read_text())
    for _ in range(100):  # the grandchild got SIGKILL with the group; give the kernel a moment
        if not _alive(child):
            break
        await asyncio.sleep(0.02)
    assert not _alive(child), "the command's child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


async def test_a_command_that_does_not_exist(client: httpx.AsyncClient) -> None:
    read = await read_logs(source(command=["kubectl-nope", "logs"]), client=client)
    assert read.problem == (
        "command 'kubectl-nope' not found (is it installed and on Firewatch's PATH?)"
    )


def log_server() -> Starlette:
    async def text(request: Request) -> Response:
        return PlainTextResponse("\n".join(SERVICE_LOG) + "\n")

    async def as_json(request: Request) -> Response:
        return JSONResponse([*SERVICE_LOG[-3:], {"msg": "not text", "level": "error"}])

    async def wrapped(request: Request) -> Response:
        return JSONResponse({"lines": ["Traceback (most recent call last):"]})

    async def down(request: Request) -> Response:
        return PlainTextResponse("upstream gone", status_code=503)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.5)
        return PlainTextResponse("late")

    async def private(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer s3cret":
            return PlainTextResponse("no", status_code=401)
        return PlainTextResponse("ERROR behind auth\n")

    return Starlette(
        routes=[
            Route("/logs.txt", text),
            Route("/logs.json", as_json),
            Route("/wrapped", wrapped),
            Route("/down", down),
            Route("/slow", slow),
            Route("/private", private),
        ]
    )


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serve_in_thread(log_server()) as url:
        yield url


async def test_http_sources_text_json_and_failures(
    server_url: str, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = await collect_logs(source(url=f"{server_url}/logs.txt", lines=5), client=client)
    assert text.read.lines == SERVICE_LOG[-5:] and text.read.problem is None
    assert text.errors.counts == {LogCategory.CRASH: 3, LogCategory.APPLICATION: 1}

    listed = await read_logs(source(url=f"{server_url}/logs.json"), client=client)
    assert listed.lines[:3] == SERVICE_LOG[-3:]
    assert listed.lines[3] == '{"msg": "not text", "level": "error"}'
    wrapped = await read_logs(source(url=f"{server_url}/wrapped"), client=client)
    assert wrapped.lines == ["Traceback (most recent call last):"]

    down = await read_logs(source(url=f"{server_url}/down"), client=client)
    assert down.problem == f"GET {server_url}/down answered 503 Service Unavailable"
    slow = await read_logs(source(url=f"{server_url}/slow", timeout="200ms"), client=client)
    assert slow.problem == f"GET {server_url}/slow did not answer within 0.2s"
    refused = await read_logs(source(url="http://127.0.0.1:9/logs", timeout="1s"), client=client)
    assert refused.problem is not None
    assert refused.problem.startswith("GET http://127.0.0.1:9/logs failed: ")

    private = source(url=f"{server_url}/private", bearer_token_env="FW_TEST_LOG_TOKEN")
    monkeypatch.delenv("FW_TEST_LOG_TOKEN", raising=False)
    unset = await read_logs(private, client=client)
    assert unset.problem == (
        "logs.bearer_token_env names FW_TEST_LOG_TOKEN, which is not set in Firewatch's environment"
    )
    monkeypatch.setenv("FW_TEST_LOG_TOKEN", "s3cret")
    assert (await read_logs(private, client=client)).lines == ["ERROR behind auth"]
