"""The one visibility and permission rule (`fusioncell.policy`), tested as the pure function it is.

Three layers:
- plain unit tests on a roster like the Paris charter's (plus a second observer that is not a joint reader);
- a hypothesis property test on random rosters, principals and audience labels, against the rule stated
  again below in plain Python (`expected_*`), never computed with policy's own helpers;
- an exhaustive sweep of the Paris roster: every delegation x every subset of roles x every audience.
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusioncell.charter import load_charter
from fusioncell.errors import Forbidden, InvalidInput
from fusioncell.policy import (
    DelegationInfo,
    DelegationKind,
    Permission,
    Principal,
    Role,
    Roster,
    authorize,
    can_manage_account,
    can_read,
    check_roles,
    has_permission,
    home_audience,
    resolve_audience,
)

EXAMPLE_CHARTER = Path(__file__).resolve().parents[1] / "charters" / "paris-2026.yaml"

# ---------------------------------------------------------------------------------------------------------
# The rule, stated again independently of the module (plain strings and sets, no policy helpers).
# ---------------------------------------------------------------------------------------------------------

ALL_ROLES = ("liaison", "analyst", "signatory", "mediator", "observer", "admin")

EXPECTED_PERMISSION_ROLES: dict[str, set[str]] = {
    "accounts.manage": {"admin"},
    "messages.send": {"liaison", "mediator"},
    "messages.instruction": {"mediator"},
    "messages.acknowledge": {"liaison", "mediator"},
    "watch.keep": {"liaison", "mediator"},
    "intel.submit": {"analyst"},
    "intel.release": {"mediator"},
    "activities.notify": {"liaison"},
    "zones.propose": {"mediator"},
    "incidents.report": {"liaison", "observer"},
    "zones.accept": {"signatory"},
    "disputes.open": {"liaison", "observer", "mediator"},
    "disputes.answer": {"liaison"},
    "disputes.statement": {"liaison", "observer", "mediator"},
    "disputes.decide": {"mediator"},
    "agreements.sign": {"signatory"},
    "keys.approve": {"mediator"},
    "agreements.propose": {"mediator"},
    "milestones.attest": {"mediator", "observer"},
}
EXPECTED_MEDIATOR_DELEGATION_ONLY = {"messages.instruction", "intel.release", "disputes.decide", "zones.propose",
                                     "keys.approve", "agreements.propose"}  # fmt: skip


@dataclass(frozen=True)
class RosterSpec:
    """A roster as plain data: the test's own statement of who is what."""

    parties: tuple[str, ...]
    mediator: str
    observers: dict[str, bool] = field(default_factory=dict)  # code -> joint_reader

    def codes(self) -> list[str]:
        return [*self.parties, self.mediator, *self.observers]

    def build(self) -> Roster:
        return Roster.of(
            [DelegationInfo(c, DelegationKind.PARTY) for c in self.parties]
            + [DelegationInfo(self.mediator, DelegationKind.MEDIATOR)]
            + [DelegationInfo(c, DelegationKind.OBSERVER, jr) for c, jr in self.observers.items()]
        )


def expected_members(label: str, spec: RosterSpec) -> set[str] | None:
    """The delegations an audience label names, or None when the label is invalid input."""
    if label == "joint":
        return set(spec.parties) | {spec.mediator} | {c for c, jr in spec.observers.items() if jr}
    if label == "mediator":
        return {spec.mediator}
    if label.startswith("mediated:"):
        code = label[len("mediated:") :]
        if code in spec.parties or code in spec.observers:
            return {code, spec.mediator}
        return None  # the mediator's own code, or a code the charter does not have
    return None


def expected_can_read(delegation: str, roles: set[str], members: set[str]) -> bool:
    return delegation in members and any(r != "admin" for r in roles)


def expected_has_permission(delegation: str, roles: set[str], permission: str, spec: RosterSpec) -> bool:
    if not roles & EXPECTED_PERMISSION_ROLES[permission]:
        return False
    if permission in EXPECTED_MEDIATOR_DELEGATION_ONLY:
        return delegation == spec.mediator
    return True


def person(delegation: str, *roles: str, username: str = "someone") -> Principal:
    return Principal(username=username, delegation=delegation, roles=frozenset(Role(r) for r in roles))


# ---------------------------------------------------------------------------------------------------------
# A roster like the Paris charter's, with a second observer that does not read joint traffic.
# ---------------------------------------------------------------------------------------------------------

PARIS = RosterSpec(parties=("SY", "IL"), mediator="US", observers={"UNDOF": True, "ICRC": False})
PARIS_CHARTER_SPEC = RosterSpec(parties=("SY", "IL"), mediator="US", observers={"UNDOF": True})


@pytest.fixture
def roster() -> Roster:
    return PARIS.build()


def test_the_literal_permission_table_covers_every_permission() -> None:
    # If a permission is added to the module, this test's statement of the rule must be extended too.
    assert {p.value for p in Permission} == set(EXPECTED_PERMISSION_ROLES)
    assert {r.value for r in Role} == set(ALL_ROLES)


# -- resolve_audience -------------------------------------------------------------------------------------


def test_joint_is_parties_mediator_and_joint_reading_observers(roster: Roster) -> None:
    audience = resolve_audience("joint", roster)
    assert audience.label == "joint"
    assert str(audience) == "joint"
    assert audience.members == {"SY", "IL", "US", "UNDOF"}
    assert "ICRC" not in audience.members


def test_mediator_audience_is_the_mediator_alone(roster: Roster) -> None:
    assert resolve_audience("mediator", roster).members == {"US"}


@pytest.mark.parametrize(
    ("label", "members"),
    [
        ("mediated:SY", {"SY", "US"}),
        ("mediated:IL", {"IL", "US"}),
        ("mediated:UNDOF", {"UNDOF", "US"}),
        ("mediated:ICRC", {"ICRC", "US"}),
    ],
)
def test_mediated_is_that_delegation_and_the_mediator(roster: Roster, label: str, members: set[str]) -> None:
    audience = resolve_audience(label, roster)
    assert audience.label == label
    assert audience.members == members


@pytest.mark.parametrize(
    "label",
    [
        "",
        "Joint",
        "JOINT",
        "joint ",
        "everyone",
        "mediators",
        "mediator:US",
        "mediated:",
        "mediated:US",
        "mediated:ZZ",
        "mediated:sy",
        "mediated:SY,IL",
        "mediated: SY",
        "mediated:mediator",
    ],
)
def test_unknown_or_invalid_labels_are_invalid_input(roster: Roster, label: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        resolve_audience(label, roster)
    assert excinfo.value.extensions.get("field") == "audience"
    assert excinfo.value.status == 422


def test_mediated_mediator_points_to_the_mediator_label(roster: Roster) -> None:
    with pytest.raises(InvalidInput, match="'mediator'"):
        resolve_audience("mediated:US", roster)


def test_mediated_unknown_code_names_the_label(roster: Roster) -> None:
    with pytest.raises(InvalidInput, match="mediated:ZZ"):
        resolve_audience("mediated:ZZ", roster)


def test_home_audience(roster: Roster) -> None:
    assert home_audience("SY", roster).members == {"SY", "US"}
    assert home_audience("UNDOF", roster).members == {"UNDOF", "US"}
    assert home_audience("US", roster).label == "mediator"
    assert home_audience("US", roster).members == {"US"}


# -- can_read ---------------------------------------------------------------------------------------------

PARIS_LABELS = ["joint", "mediator", "mediated:SY", "mediated:IL", "mediated:UNDOF", "mediated:ICRC"]


@pytest.mark.parametrize("delegation", ["SY", "IL", "US", "UNDOF", "ICRC"])
def test_admin_only_principal_reads_nothing(roster: Roster, delegation: str) -> None:
    admin = person(delegation, "admin")
    for label in PARIS_LABELS:
        assert not can_read(admin, resolve_audience(label, roster)), label


def test_principal_without_roles_reads_nothing(roster: Roster) -> None:
    for label in PARIS_LABELS:
        assert not can_read(person("US"), resolve_audience(label, roster)), label


def test_system_principal_reads_everything(roster: Roster) -> None:
    system = Principal.system("scheduler")
    assert system.is_system
    for label in PARIS_LABELS:
        assert can_read(system, resolve_audience(label, roster)), label
    for permission in Permission:
        assert has_permission(system, permission, roster)
        authorize(system, permission, roster, audience=resolve_audience("mediator", roster))
    assert can_manage_account(system, "SY", roster)


def test_party_liaison_reads_joint_and_own_mediated_only(roster: Roster) -> None:
    sy = person("SY", "liaison")
    readable = {label for label in PARIS_LABELS if can_read(sy, resolve_audience(label, roster))}
    assert readable == {"joint", "mediated:SY"}


def test_mediator_officer_reads_everything(roster: Roster) -> None:
    us = person("US", "mediator")
    assert all(can_read(us, resolve_audience(label, roster)) for label in PARIS_LABELS)


def test_observers_read_joint_only_when_joint_reader(roster: Roster) -> None:
    undof = person("UNDOF", "observer")
    icrc = person("ICRC", "observer")
    assert can_read(undof, resolve_audience("joint", roster))
    assert not can_read(icrc, resolve_audience("joint", roster))
    assert can_read(icrc, resolve_audience("mediated:ICRC", roster))
    assert not can_read(undof, resolve_audience("mediated:ICRC", roster))
    assert not can_read(undof, resolve_audience("mediator", roster))
    assert not can_read(undof, resolve_audience("mediated:SY", roster))


def test_admin_plus_content_role_reads(roster: Roster) -> None:
    assert can_read(person("SY", "admin", "analyst"), resolve_audience("mediated:SY", roster))


# -- has_permission / authorize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "permission", [Permission.SEND_INSTRUCTION, Permission.RELEASE_INTEL, Permission.DECIDE_DISPUTE]
)
def test_mediator_only_acts(roster: Roster, permission: Permission) -> None:
    assert has_permission(person("US", "mediator"), permission, roster)
    # a party person who somehow holds role mediator (check_roles forbids it, but defence in depth)
    assert not has_permission(person("SY", "mediator"), permission, roster)
    assert not has_permission(person("UNDOF", "mediator"), permission, roster)
    # the mediator's delegation without the mediator role
    assert not has_permission(person("US", "liaison", "analyst", "signatory", "admin"), permission, roster)
    with pytest.raises(Forbidden) as excinfo:
        authorize(person("SY", "mediator", username="sy.rogue"), permission, roster)
    assert excinfo.value.extensions["permission"] == permission.value
    assert excinfo.value.status == 403
    assert "sy.rogue" in excinfo.value.detail


def test_send_instruction_by_mediator_into_any_audience(roster: Roster) -> None:
    us = person("US", "mediator")
    for label in PARIS_LABELS:
        authorize(us, Permission.SEND_INSTRUCTION, roster, audience=resolve_audience(label, roster))


@pytest.mark.parametrize("label", ["mediated:IL", "mediator", "mediated:UNDOF", "mediated:ICRC"])
def test_cannot_write_into_an_audience_one_cannot_read(roster: Roster, label: str) -> None:
    sy = person("SY", "liaison", username="sy.liaison")
    assert has_permission(sy, Permission.SEND_MESSAGE, roster)
    with pytest.raises(Forbidden) as excinfo:
        authorize(sy, Permission.SEND_MESSAGE, roster, audience=resolve_audience(label, roster))
    assert excinfo.value.extensions["audience"] == label
    assert label in excinfo.value.detail


@pytest.mark.parametrize("label", ["joint", "mediated:SY"])
def test_party_liaison_writes_where_it_reads(roster: Roster, label: str) -> None:
    authorize(person("SY", "liaison"), Permission.SEND_MESSAGE, roster, audience=resolve_audience(label, roster))


def test_admin_cannot_write_content(roster: Roster) -> None:
    admin = person("US", "admin")
    with pytest.raises(Forbidden):
        authorize(admin, Permission.SEND_MESSAGE, roster, audience=resolve_audience("joint", roster))
    # the admin role permits account management, but not into content it cannot read
    authorize(admin, Permission.MANAGE_ACCOUNTS, roster)
    with pytest.raises(Forbidden):
        authorize(admin, Permission.MANAGE_ACCOUNTS, roster, audience=resolve_audience("mediator", roster))


def test_observer_cannot_send(roster: Roster) -> None:
    with pytest.raises(Forbidden):
        authorize(
            person("UNDOF", "observer"),
            Permission.SEND_MESSAGE,
            roster,
            audience=resolve_audience("joint", roster),
        )


def test_analyst_submits_intel_liaison_does_not(roster: Roster) -> None:
    assert has_permission(person("IL", "analyst"), Permission.SUBMIT_INTEL, roster)
    assert not has_permission(person("IL", "liaison"), Permission.SUBMIT_INTEL, roster)
    assert has_permission(person("IL", "signatory"), Permission.SIGN, roster)
    assert not has_permission(person("IL", "liaison"), Permission.SIGN, roster)


# -- can_manage_account -----------------------------------------------------------------------------------


def test_party_admin_manages_own_delegation_only(roster: Roster) -> None:
    admin = person("SY", "admin")
    assert can_manage_account(admin, "SY", roster)
    assert not can_manage_account(admin, "IL", roster)
    assert not can_manage_account(admin, "US", roster)
    assert not can_manage_account(admin, "UNDOF", roster)


def test_mediator_admin_manages_every_delegation(roster: Roster) -> None:
    admin = person("US", "admin")
    for code in PARIS.codes():
        assert can_manage_account(admin, code, roster), code


def test_observer_admin_manages_own_delegation_only(roster: Roster) -> None:
    admin = person("UNDOF", "admin")
    assert can_manage_account(admin, "UNDOF", roster)
    assert not can_manage_account(admin, "ICRC", roster)
    assert not can_manage_account(admin, "SY", roster)


@pytest.mark.parametrize("roles", [("liaison",), ("mediator",), ("analyst", "signatory", "liaison")])
def test_non_admins_manage_no_accounts(roster: Roster, roles: tuple[str, ...]) -> None:
    for delegation in ("SY", "US"):
        p = person(delegation, *roles)
        assert not can_manage_account(p, delegation, roster)
        assert not can_manage_account(p, "IL", roster)


# -- check_roles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["mediator", "observer"])
def test_party_cannot_hold_mediator_or_observer(roster: Roster, role: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_roles("SY", [Role.LIAISON, Role(role)], roster)
    assert excinfo.value.extensions.get("field") == "roles"
    assert role in excinfo.value.detail
    assert "party" in excinfo.value.detail


def test_party_may_hold_its_roles(roster: Roster) -> None:
    check_roles("IL", [Role.LIAISON, Role.ANALYST, Role.SIGNATORY, Role.ADMIN], roster)
    check_roles("IL", iter([Role.ANALYST]), roster)  # any iterable


def test_mediator_may_hold_all_but_observer(roster: Roster) -> None:
    check_roles("US", [Role.LIAISON, Role.ANALYST, Role.SIGNATORY, Role.MEDIATOR, Role.ADMIN], roster)
    with pytest.raises(InvalidInput, match="observer"):
        check_roles("US", [Role.MEDIATOR, Role.OBSERVER], roster)


@pytest.mark.parametrize("roles", [[Role.OBSERVER], [Role.ADMIN], [Role.OBSERVER, Role.ADMIN]])
def test_observer_delegation_holds_observer_or_admin(roster: Roster, roles: list[Role]) -> None:
    check_roles("UNDOF", roles, roster)


@pytest.mark.parametrize("role", [Role.LIAISON, Role.ANALYST, Role.SIGNATORY, Role.MEDIATOR])
def test_observer_delegation_refuses_other_roles(roster: Roster, role: Role) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_roles("UNDOF", [Role.OBSERVER, role], roster)
    assert role.value in excinfo.value.detail
    assert excinfo.value.extensions.get("field") == "roles"


def test_unknown_delegation(roster: Roster) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_roles("ZZ", [Role.LIAISON], roster)
    assert excinfo.value.extensions.get("field") == "delegation"
    assert "ZZ" in excinfo.value.detail
    assert "SY" in excinfo.value.detail  # names what the charter has


def test_empty_roles(roster: Roster) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_roles("SY", [], roster)
    assert excinfo.value.extensions.get("field") == "roles"


# ---------------------------------------------------------------------------------------------------------
# Property: random rosters, principals and labels against the plainly stated rule.
# ---------------------------------------------------------------------------------------------------------

CODE = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=5)


@st.composite
def roster_specs(draw: st.DrawFn) -> RosterSpec:
    n_parties = draw(st.integers(2, 4))
    n_observers = draw(st.integers(0, 3))
    codes = draw(
        st.lists(CODE, min_size=n_parties + 1 + n_observers, max_size=n_parties + 1 + n_observers, unique=True)
    )
    parties = tuple(codes[:n_parties])
    mediator = codes[n_parties]
    observers = {c: draw(st.booleans()) for c in codes[n_parties + 1 :]}
    return RosterSpec(parties, mediator, observers)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[RosterSpec, str, set[str], str]:
    spec = draw(roster_specs())
    codes = spec.codes()
    delegation = draw(
        st.one_of(
            st.sampled_from(codes),
            CODE.filter(lambda c: c not in codes),  # occasionally a stranger to the charter
        )
    )
    roles = draw(st.sets(st.sampled_from(ALL_ROLES)))
    label = draw(
        st.one_of(
            st.just("joint"),
            st.just("mediator"),
            st.sampled_from(codes).map(lambda c: "mediated:" + c),
            st.just("mediated:" + spec.mediator),
            CODE.map(lambda c: "mediated:" + c),
            st.sampled_from(codes).map(lambda c: "mediated:" + c.lower()),
            st.sampled_from(["", "Joint", "mediated:", "mediators", "joint,mediator"]),
            st.text(max_size=12),
        )
    )
    return spec, delegation, roles, label


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_policy_matches_the_plain_rule(scenario: tuple[RosterSpec, str, set[str], str]) -> None:
    spec, delegation, roles, label = scenario
    roster = spec.build()
    principal = Principal(username="p", delegation=delegation, roles=frozenset(Role(r) for r in roles))

    members = expected_members(label, spec)
    if members is None:
        with pytest.raises(InvalidInput):
            resolve_audience(label, roster)
        return

    audience = resolve_audience(label, roster)
    assert audience.label == label
    assert set(audience.members) == members

    reads = expected_can_read(delegation, roles, members)
    assert can_read(principal, audience) is reads

    for permission in Permission:
        allowed = expected_has_permission(delegation, roles, permission.value, spec)
        assert has_permission(principal, permission, roster) is allowed, permission

        if allowed:
            authorize(principal, permission, roster)
        else:
            with pytest.raises(Forbidden):
                authorize(principal, permission, roster)

        if allowed and reads:
            authorize(principal, permission, roster, audience=audience)
        else:
            with pytest.raises(Forbidden):
                authorize(principal, permission, roster, audience=audience)


# ---------------------------------------------------------------------------------------------------------
# Exhaustive: the Paris roster, every delegation x every subset of roles x every valid audience.
# ---------------------------------------------------------------------------------------------------------

ROLE_SUBSETS = [set(c) for n in range(len(ALL_ROLES) + 1) for c in itertools.combinations(ALL_ROLES, n)]
assert len(ROLE_SUBSETS) == 2**6


def _paris_rosters() -> list:
    return [
        pytest.param(PARIS, PARIS.build(), id="paris-with-second-observer"),
        # the shipped charter's own roster, checked against the test's literal statement of it
        pytest.param(PARIS_CHARTER_SPEC, load_charter(EXAMPLE_CHARTER).roster, id="paris-charter"),
    ]


@pytest.mark.parametrize(("spec", "roster_"), _paris_rosters())
def test_exhaustive_paris_can_read(spec: RosterSpec, roster_: Roster) -> None:
    labels = ["joint", "mediator"] + [f"mediated:{c}" for c in (*spec.parties, *spec.observers)]
    checked = 0
    for label in labels:
        members = expected_members(label, spec)
        assert members is not None
        audience = resolve_audience(label, roster_)
        assert set(audience.members) == members, label
        for delegation in spec.codes():
            for roles in ROLE_SUBSETS:
                principal = Principal("p", delegation, frozenset(Role(r) for r in roles))
                assert can_read(principal, audience) is expected_can_read(delegation, roles, members), (
                    delegation,
                    sorted(roles),
                    label,
                )
                checked += 1
    assert checked == len(labels) * len(spec.codes()) * 64


@pytest.mark.parametrize(("spec", "roster_"), _paris_rosters())
def test_exhaustive_paris_permissions(spec: RosterSpec, roster_: Roster) -> None:
    for delegation in spec.codes():
        for roles in ROLE_SUBSETS:
            principal = Principal("p", delegation, frozenset(Role(r) for r in roles))
            for permission in Permission:
                expected = expected_has_permission(delegation, roles, permission.value, spec)
                assert has_permission(principal, permission, roster_) is expected, (
                    delegation,
                    sorted(roles),
                    permission.value,
                )
