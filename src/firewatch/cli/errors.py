"""Turns every user-facing error into one clear line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import ValidationError
from rich.markup import escape
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from firewatch.cli.common import err_console
from firewatch.config import format_validation_error
from firewatch.errors import FirewatchError
from firewatch.store.db import redact_url, resolve_database_url


def run_guarded(main: Callable[[], object]) -> None:
    try:
        main()
    except FirewatchError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        sys.exit(1)
    except ValidationError as exc:
        err_console.print(
            f"[bold red]error:[/] invalid input:\n{escape(format_validation_error(exc))}"
        )
        sys.exit(1)
    except OperationalError as exc:
        url = redact_url(resolve_database_url())
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        err_console.print(f"[bold red]error:[/] database {url}: {escape(reason)}", highlight=False)
        sys.exit(1)
    except SQLAlchemyError as exc:
        err_console.print(
            f"[bold red]error:[/] database error: {type(exc).__name__}: {escape(str(exc))}"
        )
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
