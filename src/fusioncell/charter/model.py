"""The charter model. Closed (unknown keys are typos and are refused); later capabilities add sections."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from fusioncell.charter.agreements import AgreementRules, check_agreements
from fusioncell.charter.zones import Deescalation, Zone, check_sections
from fusioncell.policy import DelegationInfo, DelegationKind, Roster

Code = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=64)]
LangCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})


class Precedence(StrEnum):
    """ACP 121 precedences, highest first."""

    FLASH = "FLASH"
    IMMEDIATE = "IMMEDIATE"
    PRIORITY = "PRIORITY"
    ROUTINE = "ROUTINE"


class EscalationTarget(StrEnum):
    DUTY_OFFICER = "duty_officer"
    MEDIATOR = "mediator"
    DISPUTE = "dispute"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Languages(_Closed):
    supported: list[LangCode] = Field(min_length=1)
    authoritative: LangCode

    @model_validator(mode="after")
    def _authoritative_is_supported(self) -> Languages:
        if len(set(self.supported)) != len(self.supported):
            raise ValueError("a language is listed twice")
        if self.authoritative not in self.supported:
            raise ValueError(f"authoritative language {self.authoritative!r} is not among supported {self.supported}")
        return self


class Mechanism(_Closed):
    name: dict[LangCode, NonEmpty]
    log_origin: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9.\-]+(/[\w.\-]+)*$", max_length=200)]


class Delegation(_Closed):
    code: Code
    kind: DelegationKind
    names: dict[LangCode, NonEmpty]
    joint_reader: bool = Field(
        default=False, description="An observer that reads the joint audience (parties and mediator always do)."
    )

    @model_validator(mode="after")
    def _joint_reader_only_for_observers(self) -> Delegation:
        if self.joint_reader and self.kind is not DelegationKind.OBSERVER:
            raise ValueError("joint_reader applies to observers only: parties and the mediator always read joint")
        return self


class Track(_Closed):
    id: Slug
    names: dict[LangCode, NonEmpty]


class PrecedenceRule(_Closed):
    handling_time: timedelta
    max_words: int | None = Field(default=None, ge=1)

    @field_validator("handling_time")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("handling time must be positive")
        return value


class EscalationStep(_Closed):
    after: timedelta = Field(description="Time after the acknowledgement deadline at which this step fires.")
    notify: EscalationTarget


class Escalation(_Closed):
    default: list[EscalationStep] = Field(min_length=1)
    tracks: dict[str, list[EscalationStep]] = Field(default_factory=dict)

    @field_validator("default", "tracks")
    @classmethod
    def _ordered(cls, value):  # type: ignore[no-untyped-def]
        chains = value.values() if isinstance(value, dict) else [value]
        for chain in chains:
            afters = [step.after for step in chain]
            if afters != sorted(afters) or any(a < timedelta(0) for a in afters):
                raise ValueError("escalation steps must be in order of a non-negative 'after'")
        return value


class Witness(_Closed):
    """A party's witness: the log submits each checkpoint to it and keeps its cosignature."""

    name: Annotated[str, StringConstraints(pattern=r"^[^\s+]+$", max_length=200)]
    delegation: Code
    key: NonEmpty = Field(description="verifier key, <name>+<key ID>+<base64(0x04 ‖ Ed25519 public key)>")
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=500)] = Field(
        description="the witness's submission prefix: the log POSTs to <url>/add-checkpoint"
    )

    @field_validator("key")
    @classmethod
    def _witness_key(cls, value: str) -> str:
        from fusioncell.ledger.note import ALG_COSIGNATURE_V1, NoteError, Verifier

        try:
            verifier = Verifier.parse(value)
        except NoteError as exc:
            raise ValueError(f"not a verifier key: {exc}") from None
        if verifier.alg != ALG_COSIGNATURE_V1:
            raise ValueError(
                "a witness key is a cosignature key (type 0x04): make it with `fusioncell keys new --witness`"
            )
        return value


class LedgerRules(_Closed):
    """How the log signs and who witnesses it."""

    log_key: NonEmpty | None = Field(
        default=None,
        description="the log's verifier key (<origin>+<key ID>+<base64>); when set, the server refuses to start "
        "with any other signing key",
    )
    checkpoint_interval: timedelta = Field(default=timedelta(seconds=2), description="at most one checkpoint per")
    heartbeat: timedelta = Field(default=timedelta(seconds=60), description="a checkpoint at least every")
    witnesses: list[Witness] = Field(default_factory=list)

    @field_validator("log_key")
    @classmethod
    def _log_key(cls, value: str | None) -> str | None:
        from fusioncell.ledger.note import ALG_ED25519, NoteError, Verifier

        if value is None:
            return value
        try:
            verifier = Verifier.parse(value)
        except NoteError as exc:
            raise ValueError(f"not a verifier key: {exc}") from None
        if verifier.alg != ALG_ED25519:
            raise ValueError("the log key is an Ed25519 note key (type 0x01): make it with `fusioncell keys new`")
        return value


class DisputeDeadlines(_Closed):
    """How long each stage of a dispute may last before the scheduler alerts and escalates it."""

    acknowledge: timedelta = Field(default=timedelta(hours=24), description="the respondent acknowledges the case")
    respond: timedelta = Field(default=timedelta(days=3), description="the respondent answers, from acknowledging")
    review: timedelta = Field(default=timedelta(days=2), description="the mediator takes it up, from the response")
    decide: timedelta = Field(default=timedelta(days=14), description="the mediator's finding, from taking it up")


class DisputeRules(_Closed):
    deadlines: DisputeDeadlines = Field(default_factory=DisputeDeadlines)
    information: timedelta = Field(
        default=timedelta(days=2), description="the time to answer the mediator's request for information"
    )

    @model_validator(mode="after")
    def _positive(self) -> DisputeRules:
        periods = {**self.deadlines.model_dump(), "information": self.information}
        for name, period in periods.items():
            if not timedelta(minutes=1) <= period <= timedelta(days=366):
                raise ValueError(f"{name}: a dispute's period runs from one minute to 366 days")
        return self


class Charter(_Closed):
    charter_version: int = Field(ge=1)
    mechanism: Mechanism
    languages: Languages
    delegations: list[Delegation] = Field(min_length=2)
    tracks: list[Track] = Field(min_length=1)
    precedence: dict[Precedence, PrecedenceRule]
    renotify_interval: timedelta
    escalation: Escalation
    glossary: dict[Slug, dict[LangCode, NonEmpty]] = Field(default_factory=dict)
    ledger: LedgerRules = Field(default_factory=LedgerRules)
    deescalation: Deescalation | None = None
    zones: list[Zone] = Field(default_factory=list)
    disputes: DisputeRules = Field(default_factory=DisputeRules)
    agreements: AgreementRules = Field(default_factory=AgreementRules)

    @model_validator(mode="after")
    def _consistent(self) -> Charter:
        langs = set(self.languages.supported)
        problems: list[str] = []

        codes = [d.code for d in self.delegations]
        for code in sorted({c for c in codes if codes.count(c) > 1}):
            problems.append(f"delegations: code {code!r} is listed twice")
        kinds = [d.kind for d in self.delegations]
        if kinds.count(DelegationKind.MEDIATOR) != 1:
            problems.append("delegations: exactly one delegation of kind 'mediator' is required")
        if kinds.count(DelegationKind.PARTY) < 2:
            problems.append("delegations: at least two delegations of kind 'party' are required")

        ids = [t.id for t in self.tracks]
        for tid in sorted({t for t in ids if ids.count(t) > 1}):
            problems.append(f"tracks: id {tid!r} is listed twice")

        missing_prec = [p.value for p in Precedence if p not in self.precedence]
        if missing_prec:
            problems.append(f"precedence: missing {', '.join(missing_prec)}")
        if self.renotify_interval <= timedelta(0):
            problems.append("renotify_interval: must be positive")

        for track in self.escalation.tracks:
            if track not in ids:
                problems.append(
                    f"escalation.tracks.{track}: unknown track {track!r}; the charter's tracks are {', '.join(ids)}"
                )

        def need_all(path: str, names: dict[str, str]) -> None:
            missing = sorted(langs - set(names))
            extra = sorted(set(names) - langs)
            if missing:
                problems.append(f"{path}: missing language(s) {', '.join(missing)}")
            if extra:
                problems.append(f"{path}: language(s) {', '.join(extra)} not among languages.supported")

        need_all("mechanism.name", self.mechanism.name)
        for i, d in enumerate(self.delegations):
            need_all(f"delegations[{i}].names", d.names)
        for i, t in enumerate(self.tracks):
            need_all(f"tracks[{i}].names", t.names)
        for term, wordings in self.glossary.items():
            need_all(f"glossary.{term}", wordings)

        problems += check_sections(
            self.deescalation,
            self.zones,
            party_codes={d.code for d in self.delegations if d.kind is DelegationKind.PARTY},
            need_all=need_all,
        )

        problems += check_agreements(
            self.agreements,
            parties={d.code for d in self.delegations if d.kind is DelegationKind.PARTY},
            verifiers={d.code for d in self.delegations if d.kind is not DelegationKind.PARTY},
            zones={z.id for z in self.zones},
            need_all=need_all,
        )

        rules = self.ledger
        if not timedelta(0) < rules.checkpoint_interval <= rules.heartbeat:
            problems.append("ledger: checkpoint_interval must be positive and at most the heartbeat")
        if rules.log_key and not rules.log_key.startswith(self.mechanism.log_origin + "+"):
            problems.append(f"ledger.log_key: the log key's name must be the origin {self.mechanism.log_origin!r}")
        for i, w in enumerate(rules.witnesses):
            if w.delegation not in codes:
                problems.append(f"ledger.witnesses[{i}].delegation: unknown delegation {w.delegation!r}")
            if not w.key.startswith(w.name + "+"):
                problems.append(f"ledger.witnesses[{i}].key: the key's name must be the witness name {w.name!r}")
        names = [w.name for w in rules.witnesses]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"ledger.witnesses: {name!r} is listed twice")

        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- derived views -------------------------------------------------------------------------------

    @cached_property
    def roster(self) -> Roster:
        return Roster.of(DelegationInfo(d.code, d.kind, d.joint_reader) for d in self.delegations)

    @cached_property
    def track_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.tracks)

    @property
    def mediator_code(self) -> str:
        return next(d.code for d in self.delegations if d.kind is DelegationKind.MEDIATOR)

    def delegation(self, code: str) -> Delegation | None:
        return next((d for d in self.delegations if d.code == code), None)

    def handling_time(self, precedence: Precedence) -> timedelta:
        return self.precedence[precedence].handling_time

    def escalation_chain(self, track: str) -> list[EscalationStep]:
        return self.escalation.tracks.get(track, self.escalation.default)

    def word_limit(self, precedence: Precedence) -> int | None:
        return self.precedence[precedence].max_words


# Joiners inside one word: hyphen, apostrophes, and the Hebrew geresh/gershayim of acronyms (צה"ל, האו״ם).
WORD_RE = re.compile(r"\w+(?:[-'’\"\u05F3\u05F4]\w+)*", re.UNICODE)


def count_words(text: str) -> int:
    """Words as a reader counts them, in any script: vowel marks (combining) do not split a word."""
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))
    return len(WORD_RE.findall(text))
