"""The one visibility and permission rule.

Every read path (REST, TAXII, stream, pages, exports, ledger contents) asks `can_read`; every write path
asks `authorize`. This module is pure: it knows delegations, roles and audiences, never the database.

The rule, in words:
- An audience is a set of delegations. `joint` is every party, the mediator, and each observer the
  charter names as a joint reader; `mediated:XX` is delegation XX and the mediator; `mediator` is the
  mediator alone.
- A person reads an item when their delegation is in its audience and they hold a role that reads
  content (every role but `admin`: administering accounts gives no sight of content).
- A person writes into an audience only if they could read it, and only with a role that permits the act.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from fusioncell.errors import Forbidden, InvalidInput


class Role(StrEnum):
    LIAISON = "liaison"
    ANALYST = "analyst"
    SIGNATORY = "signatory"
    MEDIATOR = "mediator"
    OBSERVER = "observer"
    ADMIN = "admin"


class DelegationKind(StrEnum):
    PARTY = "party"
    MEDIATOR = "mediator"
    OBSERVER = "observer"


CONTENT_ROLES: frozenset[Role] = frozenset(Role) - {Role.ADMIN}

ROLES_BY_KIND: Mapping[DelegationKind, frozenset[Role]] = {
    DelegationKind.PARTY: frozenset({Role.LIAISON, Role.ANALYST, Role.SIGNATORY, Role.ADMIN}),
    DelegationKind.MEDIATOR: frozenset({Role.LIAISON, Role.ANALYST, Role.SIGNATORY, Role.MEDIATOR, Role.ADMIN}),
    DelegationKind.OBSERVER: frozenset({Role.OBSERVER, Role.ADMIN}),
}


class Permission(StrEnum):
    MANAGE_ACCOUNTS = "accounts.manage"
    SEND_MESSAGE = "messages.send"
    SEND_INSTRUCTION = "messages.instruction"
    ACKNOWLEDGE = "messages.acknowledge"
    KEEP_WATCH = "watch.keep"
    SUBMIT_INTEL = "intel.submit"
    RELEASE_INTEL = "intel.release"
    NOTIFY_ACTIVITY = "activities.notify"
    PROPOSE_ZONE = "zones.propose"
    REPORT_INCIDENT = "incidents.report"
    ACCEPT_ZONE = "zones.accept"
    OPEN_DISPUTE = "disputes.open"
    ANSWER_DISPUTE = "disputes.answer"
    STATE_CASE = "disputes.statement"
    DECIDE_DISPUTE = "disputes.decide"
    SIGN = "agreements.sign"
    APPROVE_KEY = "keys.approve"
    PROPOSE_AGREEMENT = "agreements.propose"
    ATTEST = "milestones.attest"


PERMISSION_ROLES: Mapping[Permission, frozenset[Role]] = {
    Permission.MANAGE_ACCOUNTS: frozenset({Role.ADMIN}),
    Permission.SEND_MESSAGE: frozenset({Role.LIAISON, Role.MEDIATOR}),
    Permission.SEND_INSTRUCTION: frozenset({Role.MEDIATOR}),
    Permission.ACKNOWLEDGE: frozenset({Role.LIAISON, Role.MEDIATOR}),
    Permission.KEEP_WATCH: frozenset({Role.LIAISON, Role.MEDIATOR}),
    Permission.SUBMIT_INTEL: frozenset({Role.ANALYST}),
    Permission.RELEASE_INTEL: frozenset({Role.MEDIATOR}),
    Permission.NOTIFY_ACTIVITY: frozenset({Role.LIAISON}),
    Permission.PROPOSE_ZONE: frozenset({Role.MEDIATOR}),
    Permission.REPORT_INCIDENT: frozenset({Role.LIAISON, Role.OBSERVER}),
    Permission.ACCEPT_ZONE: frozenset({Role.SIGNATORY}),
    Permission.OPEN_DISPUTE: frozenset({Role.LIAISON, Role.OBSERVER, Role.MEDIATOR}),
    Permission.ANSWER_DISPUTE: frozenset({Role.LIAISON}),
    Permission.STATE_CASE: frozenset({Role.LIAISON, Role.OBSERVER, Role.MEDIATOR}),
    Permission.DECIDE_DISPUTE: frozenset({Role.MEDIATOR}),
    Permission.SIGN: frozenset({Role.SIGNATORY}),
    Permission.APPROVE_KEY: frozenset({Role.MEDIATOR}),
    Permission.PROPOSE_AGREEMENT: frozenset({Role.MEDIATOR}),
    Permission.ATTEST: frozenset({Role.MEDIATOR, Role.OBSERVER}),
}

# Each act as a refusal names it, and who may do it, in a sentence a duty officer reads (the permission's code
# goes along for programs).
ACTS: Mapping[Permission, str] = {
    Permission.MANAGE_ACCOUNTS: "manage accounts",
    Permission.SEND_MESSAGE: "send messages",
    Permission.SEND_INSTRUCTION: "send an INSTRUCTION",
    Permission.ACKNOWLEDGE: "acknowledge messages",
    Permission.KEEP_WATCH: "take or hand over the watch",
    Permission.SUBMIT_INTEL: "submit intelligence",
    Permission.RELEASE_INTEL: "release, decline or recall intelligence",
    Permission.NOTIFY_ACTIVITY: "notify activity",
    Permission.PROPOSE_ZONE: "propose a zone",
    Permission.REPORT_INCIDENT: "report an incident",
    Permission.ACCEPT_ZONE: "accept a zone for their party",
    Permission.OPEN_DISPUTE: "open a dispute",
    Permission.ANSWER_DISPUTE: "acknowledge or answer a dispute for their party",
    Permission.STATE_CASE: "add a statement to a dispute",
    Permission.DECIDE_DISPUTE: "take up, decide or escalate a dispute",
    Permission.SIGN: "sign an agreement",
    Permission.APPROVE_KEY: "approve a signatory's key",
    Permission.PROPOSE_AGREEMENT: "propose an agreement or an amendment",
    Permission.ATTEST: "attest a milestone",
}
ROLE_NAMES: Mapping[Role, str] = {
    Role.LIAISON: "liaison officers",
    Role.ANALYST: "analysts",
    Role.SIGNATORY: "signatories",
    Role.MEDIATOR: "the mediator",
    Role.OBSERVER: "observers",
    Role.ADMIN: "a delegation's admins",
}

# Acts reserved to the mediator's delegation whatever roles a person elsewhere were given.
MEDIATOR_DELEGATION_ONLY: frozenset[Permission] = frozenset(
    {
        Permission.SEND_INSTRUCTION,
        Permission.RELEASE_INTEL,
        Permission.DECIDE_DISPUTE,
        Permission.PROPOSE_ZONE,
        Permission.APPROVE_KEY,
        Permission.PROPOSE_AGREEMENT,
    }
)


@dataclass(frozen=True)
class DelegationInfo:
    code: str
    kind: DelegationKind
    joint_reader: bool = False


@dataclass(frozen=True)
class Roster:
    """The delegations of a charter, as policy needs them."""

    delegations: Mapping[str, DelegationInfo]

    @classmethod
    def of(cls, delegations: Iterable[DelegationInfo]) -> Roster:
        return cls({d.code: d for d in delegations})

    def kind(self, code: str) -> DelegationKind | None:
        info = self.delegations.get(code)
        return info.kind if info else None

    def codes(self, kind: DelegationKind) -> frozenset[str]:
        return frozenset(c for c, d in self.delegations.items() if d.kind is kind)


@dataclass(frozen=True)
class Principal:
    """Who acts: a signed-in person, or the system itself (CLI on the host, the scheduler)."""

    username: str
    delegation: str | None
    roles: frozenset[Role] = field(default_factory=frozenset)
    user_id: int | None = None

    @property
    def is_system(self) -> bool:
        return self.delegation is None

    @classmethod
    def system(cls, name: str) -> Principal:
        return cls(username=name, delegation=None, roles=frozenset())


@dataclass(frozen=True)
class Audience:
    label: str
    members: frozenset[str]

    def __str__(self) -> str:
        return self.label


JOINT = "joint"
MEDIATOR = "mediator"
MEDIATED_PREFIX = "mediated:"


def resolve_audience(label: str, roster: Roster) -> Audience:
    """Turn an audience label into its set of delegations; an unknown label is invalid input."""
    mediators = roster.codes(DelegationKind.MEDIATOR)
    if label == JOINT:
        readers = roster.codes(DelegationKind.PARTY) | mediators
        readers |= {c for c, d in roster.delegations.items() if d.kind is DelegationKind.OBSERVER and d.joint_reader}
        return Audience(label, frozenset(readers))
    if label == MEDIATOR:
        return Audience(label, mediators)
    if label.startswith(MEDIATED_PREFIX):
        code = label[len(MEDIATED_PREFIX) :]
        kind = roster.kind(code)
        if kind is None:
            raise InvalidInput(f"audience {label!r} names no delegation of the charter", field="audience")
        if kind is DelegationKind.MEDIATOR:
            raise InvalidInput(f"audience {label!r}: use 'mediator' for the mediator alone", field="audience")
        return Audience(label, frozenset({code}) | mediators)
    raise InvalidInput(
        f"unknown audience {label!r}: expected 'joint', 'mediator' or 'mediated:<delegation>'",
        field="audience",
    )


def audience_labels(roster: Roster) -> list[str]:
    """Every valid audience label of a charter."""
    labels = [JOINT, MEDIATOR]
    labels += [
        MEDIATED_PREFIX + code
        for code, d in sorted(roster.delegations.items())
        if d.kind is not DelegationKind.MEDIATOR
    ]
    return labels


def readable_audiences(principal: Principal, roster: Roster) -> list[str]:
    """The audience labels whose items this principal may read: the filter every list query applies."""
    return [label for label in audience_labels(roster) if can_read(principal, resolve_audience(label, roster))]


def home_audience(delegation: str, roster: Roster) -> Audience:
    """The narrowest audience a delegation shares with the mediator (its accounts, its drafts)."""
    if roster.kind(delegation) is DelegationKind.MEDIATOR:
        return resolve_audience(MEDIATOR, roster)
    return resolve_audience(MEDIATED_PREFIX + delegation, roster)


def can_read(principal: Principal, audience: Audience) -> bool:
    if principal.is_system:
        return True
    return principal.delegation in audience.members and bool(principal.roles & CONTENT_ROLES)


def has_permission(principal: Principal, permission: Permission, roster: Roster) -> bool:
    if principal.is_system:
        return True
    if not principal.roles & PERMISSION_ROLES[permission]:
        return False
    if permission in MEDIATOR_DELEGATION_ONLY:
        return roster.kind(principal.delegation or "") is DelegationKind.MEDIATOR
    return True


def authorize(
    principal: Principal, permission: Permission, roster: Roster, *, audience: Audience | None = None
) -> None:
    """Raise Forbidden unless the principal may perform the act (into the given audience)."""
    if not has_permission(principal, permission, roster):
        raise Forbidden(refusal(principal, permission), permission=permission.value)
    if audience is not None and not can_read(principal, audience):
        raise Forbidden(
            f"{principal.username} cannot write into audience {audience.label!r}, which they cannot read",
            audience=audience.label,
        )


def refusal(principal: Principal, permission: Permission) -> str:
    """Why the principal may not: 'sy.liaison may not send an INSTRUCTION: only the mediator may'."""
    holders = sorted(PERMISSION_ROLES[permission], key=list(Role).index)
    who = " and ".join(ROLE_NAMES[r] for r in holders)
    return f"{principal.username} may not {ACTS[permission]}: only {who} may"


def can_manage_account(principal: Principal, target_delegation: str, roster: Roster) -> bool:
    """Admins manage their own delegation's accounts; the mediator's admins manage every delegation's."""
    if principal.is_system:
        return True
    if not has_permission(principal, Permission.MANAGE_ACCOUNTS, roster):
        return False
    return (
        principal.delegation == target_delegation or roster.kind(principal.delegation or "") is DelegationKind.MEDIATOR
    )


def check_roles(delegation: str, roles: Iterable[Role], roster: Roster) -> None:
    """Refuse roles a delegation of that kind cannot hold (a party cannot hold `mediator`)."""
    kind = roster.kind(delegation)
    if kind is None:
        known = ", ".join(sorted(roster.delegations))
        raise InvalidInput(f"unknown delegation {delegation!r}; the charter has {known}", field="delegation")
    roles = list(roles)
    if not roles:
        raise InvalidInput("an account needs at least one role", field="roles")
    wrong = sorted(r.value for r in roles if r not in ROLES_BY_KIND[kind])
    if wrong:
        allowed = ", ".join(sorted(r.value for r in ROLES_BY_KIND[kind]))
        raise InvalidInput(
            f"a {kind.value} delegation cannot hold role(s) {', '.join(wrong)}; allowed: {allowed}",
            field="roles",
        )
