"""What every command line module shares: the consoles and the error handling that turns failures into one
red line with what to do next."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from fusioncell import text
from fusioncell.charter.loader import CharterError
from fusioncell.errors import DomainError, LogKeyError


def _console(*, stderr: bool = False) -> Console:
    """A line is never broken where the screen ends (a key, a token, a path, an error stays one line that can be
    copied whole); and off a terminal (a pipe, a file, a script) the width is what is printed, so that tables come
    out whole too. On a terminal, tables fit its width."""
    out = Console(stderr=stderr, soft_wrap=True)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out.width = 1000
    return out


console = _console()
err = _console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def shown(value: object, style: str = "", *, lines: bool = False) -> Text:
    """Text that came from a server, a charter or a file, as the terminal prints it: never read as markup (a track
    named [de-escalation] stays so), never a control. What a reader could not see in it, a control character, a
    direction mark or isolate, an invisible character, a tag, is printed as its code (\\x1b, \\u202e) in reverse
    video, so that one party cannot rewrite the other's screen. `lines`: newlines and tabs are kept."""
    out = Text(style=style)
    for piece in text.segments(str(value), lines=lines):
        if isinstance(piece, str):
            out.append(piece)
        else:
            out.append(piece.code, style="reverse")
    return out


def plain(value: object) -> str:
    """`shown` for a line written with Rich markup around it: markup escaped, and every character a reader could
    not see (a control, a direction mark, a tag) written as its code (\\x1b, \\u202e), so that a bundle, a server's
    answer or a file cannot rewrite the screen."""
    from rich.markup import escape

    return escape("".join(p if isinstance(p, str) else p.code for p in text.segments(str(value), lines=False)))


def friendly(func: F) -> F:
    """Turn domain and charter errors into a red line and a non-zero exit, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CharterError as exc:
            err.print("[bold red]The charter was refused:[/]")
            for problem in exc.problems:
                err.print(Text.assemble("  ", shown(exc.source, "red"), ": ", shown(problem)), highlight=False)
            err.print("Fix the charter file and run the command again.")
            raise typer.Exit(2) from None
        except DomainError as exc:
            err.print(Text.assemble(("error:", "bold red"), " ", shown(exc.detail)), highlight=False)
            raise typer.Exit(1) from None
        except LogKeyError as exc:
            err.print(Text.assemble(("log key:", "bold red"), " ", shown(exc)), highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
