"""What every request body shares: unknown fields refused, and the text rule (fusioncell.text) on every string."""

from __future__ import annotations

import functools
import secrets
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError, core_schema

from fusioncell import text

NUL_REFUSED = "text must not contain the NUL character (U+0000)"


class TextKind(StrEnum):
    LINE = "line"  # one line: the default for every string
    LINES = "lines"  # tabs and newlines allowed: a body, a read-back, a note, a reason
    SECRET = "secret"  # a password: compared as typed and never shown, so only NUL is refused, nothing normalised
    STIX = "stix"  # STIX content: checked by fusioncell.intel.stix, which points at the very value and never
    # normalises (objects are served as sent)


TEXT_KEY = "x-text"  # in the OpenAPI document: which text rule a string follows, where it is not one line


@dataclass(frozen=True)
class Text:
    """In a field's type, which text rule its strings follow (without it: one line)."""

    kind: TextKind

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        document = handler(schema)
        document[TEXT_KEY] = self.kind.value
        return document


LINES = Text(TextKind.LINES)
SECRET = Text(TextKind.SECRET)
STIX = Text(TextKind.STIX)


class InputModel(BaseModel):
    """A request body: unknown fields refused, and every string in it, keys included, held to the text rule
    (fusioncell.text) and stored in NFC, or a 422 naming the field, the character and its position. The same body
    gets the same answer on either database (PostgreSQL cannot store U+0000, SQLite would). Query and path
    parameters get the rule from `deps.refuse_bad_text`, for every route.

    A field's strings are one line unless its type carries `LINES` (or `SECRET`, `STIX`). Strings are checked
    before the field's own constraints, so a length limit counts the text as stored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _text_rule(cls, value: Any, info: ValidationInfo) -> Any:
        kind, holds_models = _plan(cls, info.field_name or "")
        return value if holds_models else _follow(value, kind, (info.field_name or "",))

    @field_validator("*", mode="after")
    @classmethod
    def _text_rule_around_models(cls, value: Any, info: ValidationInfo) -> Any:
        """A field holding request models (each checks its own fields): the strings around them, such as keys."""
        kind, holds_models = _plan(cls, info.field_name or "")
        return _follow(value, kind, (info.field_name or "",)) if holds_models else value


@functools.cache
def _plan(model: type[BaseModel], name: str) -> tuple[TextKind, bool]:
    """The text kind of a field's strings, and whether the field holds request models."""
    field = model.model_fields.get(name)
    if field is None:
        return TextKind.LINE, False
    marks = [m for m in (*field.metadata, *_metadata(field.annotation)) if isinstance(m, Text)]
    return (marks[0].kind if marks else TextKind.LINE), _holds_models(field.annotation)


def _metadata(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Annotated:
        return [*annotation.__metadata__, *_metadata(typing.get_args(annotation)[0])]
    return [m for arg in typing.get_args(annotation) for m in _metadata(arg)]


def _holds_models(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_models(arg) for arg in typing.get_args(annotation))


def _follow(value: Any, kind: TextKind, path: tuple[str | int, ...]) -> Any:
    """The value with each string in it as stored, keys included; PydanticCustomError at the first refused."""
    if isinstance(value, str):
        return _one(value, kind, path)
    if kind is TextKind.STIX or isinstance(value, BaseModel):
        return value
    if isinstance(value, list | tuple):
        return type(value)(_follow(v, kind, (*path, i)) for i, v in enumerate(value))
    if isinstance(value, dict):
        return {_one(k, kind, path) if isinstance(k, str) else k: _follow(v, kind, (*path, k))
                for k, v in value.items()}  # fmt: skip
    return value


def _one(value: str, kind: TextKind, path: tuple[str | int, ...]) -> str:
    if kind is TextKind.STIX:
        return value
    where = f"{'/'.join(map(str, path))}: " if len(path) > 1 else ""  # a string inside the field: which one
    if kind is TextKind.SECRET:
        if "\x00" in value:
            raise PydanticCustomError("text_refused", "{detail}", {"detail": where + NUL_REFUSED})
        return value
    try:
        return text.accepted(value, lines=kind is TextKind.LINES)
    except text.TextRefused as refused:
        raise PydanticCustomError("text_refused", "{detail}", {"detail": where + str(refused)}) from None


# The rule in the contract: every string a client sends (body property or parameter) is declared with the pattern
# its text kind accepts. (NFC normalisation refuses nothing, so the pattern says all there is to refuse.) Strings
# with a pattern, a format or an enumeration of their own already say what they hold.
TEXT_PATTERNS = {
    TextKind.LINE: text.pattern(lines=False),
    TextKind.LINES: text.pattern(lines=True),
    TextKind.SECRET: r"^[^\x00]*$",
}


def _mark_strings(schema: Any, kind: TextKind = TextKind.LINE) -> None:
    if isinstance(schema, dict):
        kind = TextKind(schema.get(TEXT_KEY, kind))
        own = {"pattern", "format", "enum", "const"} & schema.keys()
        if schema.get("type") == "string" and not own and kind in TEXT_PATTERNS:
            schema["pattern"] = TEXT_PATTERNS[kind]
        for value in schema.values():
            _mark_strings(value, kind)
    elif isinstance(schema, list):
        for value in schema:
            _mark_strings(value, kind)


def document_text_rule(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare in the OpenAPI document what `InputModel` and `deps.refuse_bad_text` enforce: the request bodies'
    schemas and every parameter's. (Response shapes are left as they are.)"""
    bodies = _input_models()
    for name, component in openapi.get("components", {}).get("schemas", {}).items():
        if name in bodies:
            _mark_strings(component)
    for operation in (op for item in openapi.get("paths", {}).values() for op in item.values() if isinstance(op, dict)):
        for parameter in operation.get("parameters", []):
            _mark_strings(parameter.get("schema"))
    return openapi


def document_models(openapi: dict[str, Any], models: typing.Iterable[type[BaseModel]]) -> dict[str, Any]:
    """Add to the document's components the schemas of request bodies a route reads itself (FastAPI lists only the
    models of the parameters it parses)."""
    _, top = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        components.setdefault(name, schema)
    return openapi


def _input_models(cls: type[InputModel] = InputModel) -> set[str]:
    return {name for sub in cls.__subclasses__() for name in (sub.__name__, *_input_models(sub))}


# What the key columns hold, so that a number no row can have is invalid input (422) on either database, not a
# 500 on one: a row id (messages, alerts, intelligence items and objects, ...) is an Integer key, 32-bit on
# PostgreSQL; a ledger index or tree size is a BigInteger. Every identifier a client sends is one of these types.
ROW_ID_MAX = 2**31 - 1
BIG_MAX = 2**63 - 1


def random_row_id() -> int:
    """A new row's id, drawn at random from what an id column holds. Ids from one sequence would tell a reader,
    from the gaps between the ids of the rows it reads, how many rows went in between to audiences it may not read;
    the caller retries on the rare id already taken."""
    return secrets.randbelow(ROW_ID_MAX) + 1


# A client's own id for a request it may have to resend (a message, a notification): the same id from the same account
# is the same request, answered from the record rather than carried out twice.
TxnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,100}$")]

RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]
# A position in the ledger, as a list's cursor: the items after it (-1: from the start). Lists of what is recorded
# page by it, never by row id: ledger indexes are public (every delegation witnesses the whole log), row ids are not.
LedgerAfter = Annotated[int, Field(ge=-1, le=BIG_MAX)]
