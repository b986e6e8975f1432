"""What every request body shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NUL_REFUSED = "text must not contain the NUL character (U+0000)"


class InputModel(BaseModel):
    """A request body: unknown fields refused, and no text holding U+0000, which PostgreSQL cannot store and
    SQLite would: the same body gets the same answer, a 422 naming the field, on either database. (Query and
    path parameters get the same rule from `deps.refuse_nul`, for every route.)"""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(NUL_REFUSED)
        return value


# The rule above, in the contract: every free-text string a client sends (body property or parameter) is
# declared as holding no NUL. Strings with a pattern, a format or an enumeration already say what they hold.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _mark_strings(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & schema.keys():
            schema["pattern"] = NO_NUL_PATTERN
        for value in schema.values():
            _mark_strings(value)
    elif isinstance(schema, list):
        for value in schema:
            _mark_strings(value)


def document_no_nul(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare in the OpenAPI document what `InputModel` and `deps.refuse_nul` enforce: the request bodies' schemas
    and every parameter's. (Response shapes are left as they are.)"""
    bodies = _input_models()
    for name, component in openapi.get("components", {}).get("schemas", {}).items():
        if name in bodies:
            _mark_strings(component)
    for operation in (op for item in openapi.get("paths", {}).values() for op in item.values() if isinstance(op, dict)):
        for parameter in operation.get("parameters", []):
            _mark_strings(parameter.get("schema"))
    return openapi


def _input_models(cls: type[InputModel] = InputModel) -> set[str]:
    return {name for sub in cls.__subclasses__() for name in (sub.__name__, *_input_models(sub))}


# What the key columns hold, so that a number no row can have is invalid input (422) on either database, not a
# 500 on one: a row id (messages, alerts, intelligence items and objects, ...) is an Integer key, 32-bit on
# PostgreSQL; a ledger index or tree size is a BigInteger. Every identifier a client sends is one of these types.
ROW_ID_MAX = 2**31 - 1
BIG_MAX = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]
RowIdAfter = Annotated[int, Field(ge=0, le=ROW_ID_MAX)]  # a keyset cursor over row ids: 0 is before the first
