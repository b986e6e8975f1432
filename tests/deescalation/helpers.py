"""Activities over the example theatre (the Golan), as the API takes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import START

# East of the Bravo line in the area Syria controls, clear of every limitation belt (more than 25 km east).
EAST = [36.45, 33.05]
# Inside the UNDOF area of separation (Quneitra).
QUNEITRA = [35.824, 33.125]
# West of the Alpha line, in the area Israel controls.
WEST = [35.70, 33.00]


def activity(**overrides: Any) -> dict[str, Any]:
    """A joint ground exercise three days ahead (its notice period is 72 hours), at a point east of every belt."""
    start = START + timedelta(days=4)
    body: dict[str, Any] = {
        "audience": "joint",
        "activity_type": "ground-exercise",
        "geometry": {"type": "Point", "coordinates": EAST},
        "radius_m": 1000,
        "altitude": {"lower_m": 0, "upper_m": 100, "datum": "AGL"},
        "start": start.isoformat(),
        "end": (start + timedelta(hours=6)).isoformat(),
        "forces": {"troops": 200},
        "description": "Company exercise",
    }
    body.update(overrides)
    return body


def at(hours_from_start: float, length_hours: float = 6) -> dict[str, str]:
    start = START + timedelta(hours=hours_from_start)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=length_hours)).isoformat()}
