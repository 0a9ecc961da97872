"""Sleeping until woken or a timeout, without losing a cancellation.

``asyncio.wait_for`` on Python 3.11 can swallow a ``cancel()`` that arrives as its timeout fires,
leaving a worker loop running after shutdown; ``asyncio.timeout`` does not.
"""

from __future__ import annotations

import asyncio
import contextlib


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> None:
    """Return when ``event`` is set or after ``seconds``, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, seconds)):
            await event.wait()
