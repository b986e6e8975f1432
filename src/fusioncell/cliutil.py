"""What every command line module shares: the consoles and the error handling that turns failures into one
red line with what to do next."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from fusioncell.charter.loader import CharterError
from fusioncell.errors import DomainError, LogKeyError

console = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn domain and charter errors into a red line and a non-zero exit, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CharterError as exc:
            err.print("[bold red]The charter was refused:[/]")
            for problem in exc.problems:
                err.print(f"  [red]{escape(exc.source)}[/]: {escape(problem)}", highlight=False)
            err.print("Fix the charter file and run the command again.")
            raise typer.Exit(2) from None
        except DomainError as exc:
            err.print(f"[bold red]error:[/] {escape(exc.detail)}", highlight=False)
            raise typer.Exit(1) from None
        except LogKeyError as exc:
            err.print(f"[bold red]log key:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
