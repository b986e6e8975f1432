"""The demo's ground picture: a few activities notified through the real commands, one of them knowingly in conflict
with the area of separation and with another party's activity, and an observer's incident report."""

from __future__ import annotations

import base64
from datetime import timedelta

from fusioncell.cell import Cell
from fusioncell.deescalation import incidents, service
from fusioncell.deescalation.schemas import ActivityCreate, IncidentCreate
from fusioncell.errors import Conflict
from fusioncell.policy import Principal, Role

SY = Principal("sy.liaison", "SY", frozenset({Role.LIAISON}))
IL = Principal("il.liaison", "IL", frozenset({Role.LIAISON}))
UNDOF = Principal("undof.observer", "UNDOF", frozenset({Role.OBSERVER}))


def _plans(cell: Cell) -> list[tuple[Principal, dict]]:
    now = cell.clock.now().replace(minute=0, second=0, microsecond=0)

    def window(hours: int, length: int) -> dict[str, str]:
        return {
            "start": (now + timedelta(hours=hours)).isoformat(),
            "end": (now + timedelta(hours=hours + length)).isoformat(),
        }

    return [
        (
            SY,
            {
                "audience": "joint",
                "activity_type": "troop-movement",
                "radius_m": 1500,
                "geometry": {"type": "LineString", "coordinates": [[36.08, 33.20], [36.02, 33.05]]},
                "altitude": {"lower_m": 0, "upper_m": 10, "datum": "AGL"},
                **window(60, 8),
                "forces": {"troops": 400, "tanks": 20},
                "description": "Rotation of the 61st brigade's 2nd battalion",
            },
        ),
        (
            IL,
            {
                "audience": "joint",
                "activity_type": "air-patrol",
                "radius_m": 3000,
                "geometry": {"type": "LineString", "coordinates": [[35.68, 33.25], [35.66, 32.85]]},
                "altitude": {"lower_m": 2000, "upper_m": 5000, "datum": "MSL"},
                **window(30, 3),
                "forces": {"aircraft": 2},
                "description": "Two-ship patrol west of the Alpha line",
            },
        ),
        (
            SY,
            {
                "audience": "joint",
                "activity_type": "humanitarian-convoy",
                "radius_m": 500,
                "geometry": {"type": "LineString", "coordinates": [[35.95, 33.10], [35.87, 33.12], [35.83, 33.125]]},
                "altitude": {"lower_m": 0, "upper_m": 10, "datum": "AGL"},
                **window(14, 4),
                "forces": {"troops": 12},
                "description": "Twelve trucks of food aid to Quneitra, UNDOF escort",
            },
        ),
        (
            IL,
            {
                "audience": "joint",
                "activity_type": "reconnaissance-flight",
                "radius_m": 2000,
                "geometry": {"type": "Point", "coordinates": [35.84, 33.12]},
                "altitude": {"lower_m": 3000, "upper_m": 5000, "datum": "MSL"},
                **window(15, 2),
                "forces": {"drones": 1},
                "description": "One drone over Quneitra after reports of armed movement",
                "justification": "The mediator's advice of armed movement near Beit Jinn came in this morning",
            },
        ),
    ]


def seed_ground_picture(cell: Cell) -> int:
    """Notify the demo's activities (acknowledging what each meets, as a duty officer would after the 409) and one
    incident. Returns how many activities."""
    count = 0
    for principal, plan in _plans(cell):
        body = ActivityCreate.model_validate(plan)
        try:
            with cell.command() as uow:
                service.notify(cell=cell, uow=uow, principal=principal, body=body)
        except Conflict as refused:
            acknowledged = [c["ref"] for c in refused.extensions["conflicts"]]
            body = ActivityCreate.model_validate(plan | {"acknowledge": acknowledged})
            with cell.command() as uow:
                service.notify(cell=cell, uow=uow, principal=principal, body=body)
        count += 1
    log = b"0412Z: one drone, north-west to south-east, about 800 m above Quneitra, seen from OP-60 for 6 minutes.\n"
    report = IncidentCreate.model_validate(
        {
            "audience": "joint",
            "kind": "airspace-violation",
            "occurred_at": (cell.clock.now() - timedelta(hours=5)).isoformat(),
            "place": {"type": "LineString", "coordinates": [[35.80, 33.16], [35.85, 33.10]]},
            "description": "A drone crossed the area of separation above Quneitra, unannounced.",
            "zone": "area-of-separation",
            "evidence": [
                {
                    "filename": "op60-log.txt",
                    "content_type": "text/plain",
                    "content_base64": base64.b64encode(log).decode(),
                }
            ],
        }
    )
    with cell.command() as uow:
        incidents.report(cell=cell, uow=uow, principal=UNDOF, body=report)
    return count
