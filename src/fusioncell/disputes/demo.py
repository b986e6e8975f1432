"""The demo's cases, through the real commands: one on the observer's incident under the mediator's review (with a
request for information and a party's word to the mediator alone), one resolved with a finding, and one on the
rejected read-back, awaiting the respondent's acknowledgement."""

from __future__ import annotations

import base64

from sqlalchemy import select

from fusioncell.cell import Cell
from fusioncell.deescalation.models import Incident
from fusioncell.disputes import service
from fusioncell.disputes.schemas import (
    DisputeCreate,
    FindingCreate,
    InformationRequest,
    ResponseCreate,
    StatementCreate,
)
from fusioncell.policy import Principal, Role
from fusioncell.traffic.models import Clarification

SY = Principal("sy.liaison", "SY", frozenset({Role.LIAISON}))
IL = Principal("il.liaison", "IL", frozenset({Role.LIAISON}))
US = Principal("us.mediator", "US", frozenset({Role.MEDIATOR, Role.LIAISON}))


def seed_cases(cell: Cell) -> list[int]:
    """Open the demo's cases and take each as far as its story goes; returns their ids, the one under review first."""
    with cell.reading() as session:
        incident = session.execute(select(Incident.id).order_by(Incident.ledger_index).limit(1)).scalar()
        clarification = session.execute(select(Clarification.id).limit(1)).scalar()

    def run(act, principal: Principal, **kwargs):  # type: ignore[no-untyped-def]
        with cell.command() as uow:
            return act(cell=cell, uow=uow, principal=principal, **kwargs)

    track = b"0405Z-0430Z: no Israeli aircraft or drone within 5 km of Quneitra (air picture attached on request).\n"
    drone = run(
        service.open_case,
        SY,
        body=DisputeCreate(
            audience="joint",
            respondent="IL",
            title="Drone over Quneitra at 0412Z",
            complaint="UNDOF's post OP-60 saw a drone cross the area of separation above Quneitra for six minutes. "
            "We ask Israel to say whose it was and to stop such flights.",
            incident=incident,
        ),
    )
    run(service.acknowledge, IL, dispute_id=drone.id, note="Received; checking the air picture.")
    run(
        service.respond,
        IL,
        dispute_id=drone.id,
        body=ResponseCreate(
            text="No Israeli aircraft or drone flew within 5 km of Quneitra between 0405Z and 0430Z.",
            evidence=[
                {
                    "filename": "air-picture-summary.txt",
                    "content_type": "text/plain",
                    "content_base64": base64.b64encode(track).decode(),
                }
            ],  # fmt: skip
        ),
    )
    run(service.review, US, dispute_id=drone.id, note=None)
    run(
        service.request_information,
        US,
        dispute_id=drone.id,
        body=InformationRequest(addressed_to="IL", text="Send the radar track for 0400Z-0430Z over Quneitra."),
    )
    run(
        service.add_statement,
        SY,
        dispute_id=drone.id,
        body=StatementCreate(
            text="For the mediator alone: our own radar lost the track at 0415Z, west of Quneitra.",
            audience="mediated:SY",
        ),
    )

    shelling = run(
        service.open_case,
        IL,
        body=DisputeCreate(
            audience="joint",
            respondent="SY",
            title="Mortar rounds near Ein Zivan",
            complaint="Three mortar rounds landed 400 m east of Ein Zivan at 2210Z, from the direction of "
            "Khan Arnabah.",
        ),
    )
    run(service.acknowledge, SY, dispute_id=shelling.id, note=None)
    run(
        service.respond,
        SY,
        dispute_id=shelling.id,
        body=ResponseCreate(text="A unit fired without orders during a night exercise; its commander is relieved."),
    )
    run(service.review, US, dispute_id=shelling.id, note=None)
    run(
        service.resolve,
        US,
        dispute_id=shelling.id,
        body=FindingCreate(
            finding="substantiated",
            reasons="Syria's own account and UNDOF's crater analysis agree.",
            remedy="No live-fire exercises within 10 km of the Alpha line for 30 days; report the inquiry's outcome.",
        ),
    )
    opened = [drone.id, shelling.id]
    if clarification is not None:
        misread = run(
            service.open_case,
            SY,
            body=DisputeCreate(
                audience="joint",
                respondent="IL",
                title="Crossing time read back wrong",
                complaint="Our FLASH said 0600Z; Israel's read-back said 0700Z. We ask Israel to confirm 0600Z.",
                clarification=clarification,
            ),
        )
        opened.append(misread.id)
    return opened
