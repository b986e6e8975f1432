"""Review: a public ledger header must not carry what its content hides.

Account entries are recorded for the delegation's home audience (`mediated:SY`: SY and the mediator), so IL may
not read their content: who SY's officers are and when one is disabled. But the entry's `subject` is
`account:<username>`, and subjects are in the public header every delegation reads. IL lists SY's roster, and sees
the moment SY disables or resets a named officer, without reading a single content it is allowed to.
"""

from __future__ import annotations

from fusioncell.auth import service as auth_service
from tests.conftest import CLI_ACTOR, add_user


def test_other_party_cannot_read_our_roster_from_public_headers(client, cell, crew) -> None:
    add_user(cell, "sy.col-hassan", "SY", "signatory")
    with cell.command() as uow:
        auth_service.disable_user(cell=cell, uow=uow, actor=CLI_ACTOR, username="sy.col-hassan")
    il = crew["il"]
    page = client.get("/api/v1/ledger/entries?start=0&end=1000", headers=il.headers).json()
    hidden = [h for h in page["items"] if h["audience"] == "mediated:SY"]
    assert hidden, "the account entries are in SY's home audience"
    for header in hidden:
        assert client.get(f"/api/v1/ledger/entries/{header['index']}/content", headers=il.headers).status_code == 404
    leaked = sorted({h["subject"] for h in hidden if "sy." in h["subject"]})
    assert not leaked, f"IL reads SY's account names from public headers: {leaked}"
