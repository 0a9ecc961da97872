"""Concurrent writers on SQLite and PostgreSQL: unique sequential ids, no "database is locked"."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from firewatch.clock import SystemClock
from firewatch.store.db import Database
from support.api import api_client
from support.concurrency import declare_many

PROCESSES = 4
PER_PROCESS = 25


def numbers(ids: list[str]) -> list[int]:
    return sorted(int(i.rsplit("-", 1)[1]) for i in ids)


def test_parallel_declarations_from_several_processes_get_unique_sequential_ids(
    db: Database,
) -> None:
    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(declare_many, db.url, PER_PROCESS, f"p{n}") for n in range(PROCESSES)
        ]
        ids = [i for f in futures for i in f.result(timeout=120)]
    assert len(ids) == len(set(ids)) == PROCESSES * PER_PROCESS
    assert numbers(ids) == list(range(1, PROCESSES * PER_PROCESS + 1))


async def test_api_and_other_processes_write_at_once_without_lock_errors(db: Database) -> None:
    """The API (its single writer, with the workers running) and two other processes (a CLI,
    a second worker) declare and annotate incidents at the same moment: nothing fails."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        async with api_client(db, SystemClock(), run_workers=True) as (client, _):
            others = [
                loop.run_in_executor(pool, declare_many, db.url, PER_PROCESS, f"cli{n}")
                for n in range(2)
            ]

            async def declare_and_note(i: int) -> str:
                r = await client.post(
                    "/api/v1/incidents", json={"title": f"api-{i}", "severity": "SEV2"}
                )
                assert r.status_code == 201, r.text
                ref: str = r.json()["id"]
                note = await client.post(f"/api/v1/incidents/{ref}/notes", json={"text": "looking"})
                assert note.status_code == 201, note.text
                return ref

            api_ids = await asyncio.gather(*(declare_and_note(i) for i in range(60)))
            other_ids = [i for ids in await asyncio.gather(*others) for i in ids]
            everything = list(api_ids) + other_ids
            assert numbers(everything) == list(range(1, len(everything) + 1))
            listing = await client.get("/api/v1/incidents", params={"limit": 500})
            assert listing.json()["total"] == len(everything)
