"""The charter's `agreements` section: how long before its date a milestone is due, and timelines the mediator may
propose as agreements (the example: an illustrative phased withdrawal). Checked at load: every name and text in every
language, every party, verifier and zone known."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]
LangCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Passage = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimelineMilestone(_Closed):
    key: Slug
    title: dict[LangCode, Line]
    criterion: dict[LangCode, Passage] = Field(description="how the verifier tells it is done")
    obligor: Code = Field(description="the party that must do it")
    verifier: Code = Field(description="who attests it: the mediator or an observer")
    zone: Slug | None = Field(default=None, description="the zone it concerns")
    starts: timedelta = Field(description="when its work begins, from the timeline's start")
    due: timedelta = Field(description="when it is due, from the timeline's start")

    @model_validator(mode="after")
    def _ordered(self) -> TimelineMilestone:
        if not timedelta(0) <= self.starts < self.due <= timedelta(days=3660):
            raise ValueError(
                "a milestone starts at or after the timeline's start and before it is due (within ten years)"
            )
        return self


class Timeline(_Closed):
    id: Slug
    illustrative: bool = Field(default=False, description="shown as an illustration, not an agreed text")
    title: dict[LangCode, Line]
    text: dict[LangCode, Passage]
    signatories: list[Code] = Field(min_length=1)
    milestones: list[TimelineMilestone] = Field(min_length=1, max_length=1000)


class AgreementRules(_Closed):
    due_window: timedelta = Field(
        default=timedelta(days=7), description="a milestone is due from this long before its date"
    )
    timelines: list[Timeline] = Field(default_factory=list)

    @model_validator(mode="after")
    def _window(self) -> AgreementRules:
        if not timedelta(0) <= self.due_window <= timedelta(days=366):
            raise ValueError("due_window runs from 0 to 366 days")
        return self


def check_agreements(
    rules: AgreementRules, *, parties: set[str], verifiers: set[str], zones: set[str], need_all: Any
) -> list[str]:
    """`verifiers`: the mediator's and the observers' codes."""
    """The cross-references of the agreements section, each problem as `path: message`."""
    problems: list[str] = []
    ids = [t.id for t in rules.timelines]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"agreements.timelines: {dup!r} is listed twice")
    for i, t in enumerate(rules.timelines):
        path = f"agreements.timelines[{i}]"
        need_all(f"{path}.title", t.title)
        need_all(f"{path}.text", t.text)
        for code in t.signatories:
            if code not in parties:
                problems.append(f"{path}.signatories: {code!r} is not a party of the charter")
        keys = [m.key for m in t.milestones]
        for dup in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(f"{path}.milestones: key {dup!r} is listed twice")
        for j, m in enumerate(t.milestones):
            where = f"{path}.milestones[{j}]"
            need_all(f"{where}.title", m.title)
            need_all(f"{where}.criterion", m.criterion)
            if m.obligor not in t.signatories:
                problems.append(f"{where}.obligor: {m.obligor!r} is not one of the timeline's signatories")
            if m.verifier not in verifiers:
                problems.append(f"{where}.verifier: {m.verifier!r} is neither the mediator nor an observer")
            if m.zone is not None and m.zone not in zones:
                problems.append(f"{where}.zone: unknown zone {m.zone!r}")
    return problems
