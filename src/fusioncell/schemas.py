"""What every request body shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

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
