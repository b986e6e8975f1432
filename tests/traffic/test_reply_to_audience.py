"""Review: a reply must not point its readers at a message outside their audience.

SY talks privately to the mediator (mediated:SY), then sends a joint message with `reply_to` naming that
private note. IL reads the joint message and learns, on every read path (REST, stream, ledger content), that it
answers a proximity note IL may not read: the link between the two is content of the mediated audience.
"""

from __future__ import annotations

from tests.traffic.helpers import draft


def test_joint_reply_to_a_mediated_message_does_not_reveal_it(client, cell, crew) -> None:
    sy, il = crew["sy"], crew["il"]
    private = client.post(
        "/api/v1/messages",
        json=draft(audience="mediated:SY", track="diplomatic", precedence="ROUTINE", marker="INFORMATION"),
        headers=sy.headers,
    )
    assert private.status_code == 201, private.text
    private_id = private.json()["id"]
    assert client.get(f"/api/v1/messages/{private_id}", headers=il.headers).status_code == 404

    reply = client.post(
        "/api/v1/messages",
        json=draft(audience="joint", precedence="ROUTINE", marker="ANSWER", reply_to=private_id),
        headers=sy.headers,
    )
    if reply.status_code == 422:
        return  # refused at send: acceptable, nothing links the audiences
    assert reply.status_code == 201, reply.text
    reply_id = reply.json()["id"]

    seen = client.get(f"/api/v1/messages/{reply_id}", headers=il.headers).json()
    content = client.get(f"/api/v1/ledger/entries/{seen['ledger_index']}/content", headers=il.headers).json()
    assert seen["reply_to"] != private_id, "IL is shown a reply_to naming a message it cannot read"
    assert content["parsed"]["message"]["reply_to"] != private_id
