"""Review: /metrics must not reveal traffic of audiences the scraper cannot read.

`fusioncell_messages_sent_total{precedence, track}` counts every message, whatever its audience, and /metrics
needs no token at all. The track and precedence of a mediated:SY message are committed content (revealed to
its audience only); anyone who can reach the port watches them appear.
"""

from __future__ import annotations

from tests.traffic.helpers import draft


def test_metrics_do_not_reveal_track_or_precedence_of_mediated_traffic(client, crew) -> None:
    before = client.get("/metrics").text
    assert 'track="intelligence"' not in before
    sent = client.post(
        "/api/v1/messages",
        json=draft(audience="mediated:SY", track="intelligence", precedence="FLASH", marker="WARNING"),
        headers=crew["sy"].headers,
    )
    assert sent.status_code == 201, sent.text
    anonymous = client.get("/metrics")
    as_il = client.get("/metrics", headers=crew["il"].headers)
    for scrape in (anonymous, as_il):
        assert not (
            scrape.status_code == 200
            and 'fusioncell_messages_sent_total{precedence="FLASH",track="intelligence"}' in scrape.text
        ), "a party outside mediated:SY learns SY sent the mediator a FLASH on the intelligence track"
