"""Cases as the API takes them, and the acts that move one along."""

from __future__ import annotations

import base64
from typing import Any

TEXT_FILE = base64.b64encode(b"0412Z: drone seen above Quneitra, heading west\n").decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


def case(**overrides: Any) -> dict[str, Any]:
    """SY's joint complaint against IL."""
    body: dict[str, Any] = {
        "audience": "joint",
        "respondent": "IL",
        "title": "Drone over Quneitra",
        "complaint": "At 0412Z a drone crossed the area of separation over Quneitra; we ask for its flight record.",
        "evidence": [{"filename": "observation.txt", "content_type": "text/plain", "content_base64": TEXT_FILE}],
    }
    body.update(overrides)
    return body


def open_case(client: Any, member: Any, **overrides: Any) -> dict[str, Any]:
    r = client.post("/api/v1/disputes", json=case(**overrides), headers=member.headers)
    assert r.status_code == 201, r.text
    return r.json()


def act(client: Any, member: Any, dispute: int, name: str, body: dict[str, Any] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    r = client.post(f"/api/v1/disputes/{dispute}/{name}", json=body or {}, headers=member.headers)
    assert r.status_code == status, r.text
    return r.json()


def to_review(client: Any, crew: Any, dispute: int) -> None:
    """Acknowledged and answered by IL, taken up by the mediator."""
    act(client, crew["il"], dispute, "acknowledge")
    act(client, crew["il"], dispute, "respond", {"text": "No aircraft of ours flew there; the track shows a kite."})
    act(client, crew["us"], dispute, "review")


def incident(client: Any, member: Any, audience: str = "joint") -> int:
    """An airspace violation over Quneitra reported an hour and a half before the tests' start."""
    r = client.post(
        "/api/v1/incidents",
        json={
            "audience": audience,
            "kind": "airspace-violation",
            "occurred_at": "2026-03-02T04:12:00Z",
            "place": {"type": "Point", "coordinates": [35.824, 33.125]},
            "description": "A drone crossed the area of separation",
            "zone": "area-of-separation",
        },
        headers=member.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def signed_in_again(client: Any, crew: dict[str, Any], *keys: str) -> None:
    """Tokens last twelve hours of the clock: the crew signs in again after the clock moves on by days."""
    from tests.conftest import login

    for key in keys or ("sy", "il", "us", "undof"):
        crew[key].token = login(client, crew[key].username)
