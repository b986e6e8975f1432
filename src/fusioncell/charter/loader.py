"""Load a charter file and refuse a broken one with the file, the field path and the problem."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import yaml
from pydantic import ValidationError

from fusioncell.charter.model import Charter


class CharterError(Exception):
    """A charter that cannot be used; `problems` are lines of `file: path: message`."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


# libyaml when PyYAML was built with it: the zones' coordinates make the pure-Python parser the slow part of a start
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=16)
def parse_charter(text: str, source: str = "<charter>") -> Charter:
    """The charter in `text`, checked (the same text again: the same immutable charter, parsed once)."""
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CharterError(source, [f"{where}invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise CharterError(source, ["(top level): the charter must be a YAML mapping of sections"])
    try:
        return Charter.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            loc = err["loc"]
            if not loc:
                # the charter-wide checks already name their fields, one problem per line
                problems.extend(msg.split("\n"))
            else:
                problems.append(f"{_path(loc)}: {msg}")
        raise CharterError(source, problems) from None


def load_charter(path: Path) -> Charter:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CharterError(str(path), ["file not found"]) from None
    except UnicodeDecodeError:
        raise CharterError(str(path), ["not UTF-8 text"]) from None
    return parse_charter(text, str(path))


def charter_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
