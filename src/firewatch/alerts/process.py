"""Alert processing in a process of its own (``alerts.processor: process``): for high alert
volume, the pipeline gets its own interpreter and core instead of sharing the API's; it drains
the same durable ingest log, so the API process only accepts and appends."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger(__name__)


def start_processor_process(config: dict[str, Any], database_url: str) -> BaseProcess:
    """Spawn the processor; it stops when it receives SIGTERM (see `stop_processor_process`)."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_main,
        args=(config, database_url, os.getpid()),
        name="firewatch-alert-processor",
        daemon=True,
    )
    process.start()
    log.info("alert processor running as process %s", process.pid)
    return process


def stop_processor_process(process: BaseProcess, timeout: float = 15.0) -> None:
    if process.is_alive():
        process.terminate()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(5)


def _main(config: dict[str, Any], database_url: str, parent: int) -> None:  # pragma: no cover
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s alert-processor %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    asyncio.run(_run(config, database_url, parent))


async def _run(config: dict[str, Any], database_url: str, parent: int) -> None:  # pragma: no cover
    # Imported here: the parent only needs the two functions above.
    from firewatch.alerts.journal import open_journal
    from firewatch.alerts.processor import AlertProcessor
    from firewatch.app import alert_decoders, alert_policy
    from firewatch.clock import SystemClock
    from firewatch.config import FirewatchConfig
    from firewatch.runbooks.library import RunbookLibrary
    from firewatch.store.db import Database
    from firewatch.store.writer import Writer

    settings = FirewatchConfig.model_validate(config)
    db = Database(database_url)
    writer = Writer(db)
    writer.start()
    processor = AlertProcessor(
        journal=open_journal(db),
        writer=writer,
        clock=SystemClock(),
        policy=alert_policy(settings, RunbookLibrary.load(settings.runbooks.directory)),
        decoders=alert_decoders(),
        batch_alerts=20_000,
    )
    # A flood of alerts allocates millions of small objects that live for one batch: collecting
    # the young generation less often measurably speeds processing (about 12% on new alerts).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    task = asyncio.create_task(processor.run_forever(poll_interval=0.05))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    watch = asyncio.create_task(_stop_with_parent(task, parent))
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        watch.cancel()
        writer.stop()
        db.dispose()


async def _stop_with_parent(task: asyncio.Task[None], parent: int) -> None:  # pragma: no cover
    """A parent killed with SIGKILL cannot stop its children: notice it is gone and stop, so a
    restarted server does not find an orphan still processing its journal. ``parent`` comes from
    the parent itself: one killed while this process was still starting is noticed too."""
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    log.error("the server process %d is gone; stopping", parent)
    task.cancel()
