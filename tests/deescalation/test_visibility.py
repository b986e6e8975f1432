"""Whatever activities the parties notify, into whichever audiences, each person reads exactly what the audience
rule allows on every read path (list, get, versions, conflicts, stream, ledger content), and a conflict never
carries the id or detail of an activity its reader may not read."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ledger_size
from tests.deescalation.helpers import activity
from tests.traffic.helpers import StreamReader

READERS = {
    "joint": {"sy", "il", "us", "undof", "sy_analyst"},
    "mediated:SY": {"sy", "us", "sy_analyst"},
    "mediated:IL": {"il", "us"},
}
PLACES = [[36.45, 33.05], [36.452, 33.051], [35.824, 33.125], [36.3, 32.9]]
notification = st.tuples(
    st.sampled_from(["sy", "il"]), st.booleans(), st.sampled_from(range(len(PLACES))), st.integers(0, 2)
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(notification, min_size=2, max_size=5))
def test_each_reader_sees_exactly_its_audiences_activities_and_nothing_of_the_others(client, cell, crew, plans):
    start = ledger_size(cell) - 1
    made = []  # (activity, audience)
    for who, mediated, place, hour in plans:
        audience = f"mediated:{crew[who].delegation}" if mediated else "joint"
        body = activity(
            audience=audience,
            geometry={"type": "Point", "coordinates": PLACES[place]},
            description=f"plan-{len(made)}-secret",
        )
        body["start"] = body["start"][:11] + f"{6 + hour:02d}" + body["start"][13:]
        seen = client.post("/api/v1/activities/check", json=body, headers=crew[who].headers).json()["conflicts"]
        r = client.post(
            "/api/v1/activities", json=body | {"acknowledge": [c["ref"] for c in seen]}, headers=crew[who].headers
        )
        assert r.status_code == 201, r.text
        made.append((r.json(), audience))
    ids = {a["id"] for a, _ in made}
    for key, member in crew.items():
        mine = {a["id"] for a, aud in made if key in READERS[aud]}
        hidden = ids - mine
        listed = {a["id"] for a in client.get("/api/v1/activities?limit=500", headers=member.headers).json()["items"]}
        assert listed & ids == mine, key
        texts = []
        for a, aud in made:
            may = key in READERS[aud]
            for path in ("", "/versions", "/conflicts"):
                r = client.get(f"/api/v1/activities/{a['id']}{path}", headers=member.headers)
                assert r.status_code == (200 if may else 404), (key, aud, path)
                if may:  # a refusal names the id asked for, nothing more
                    texts.append(r.text)
            r = client.get(f"/api/v1/ledger/entries/{a['ledger_index']}/content", headers=member.headers)
            assert r.status_code == (200 if may else 404), (key, aud)
            if may:
                texts.append(r.text)
            if may:
                for c in client.get(f"/api/v1/activities/{a['id']}/conflicts", headers=member.headers).json():
                    other = c.get("other_activity")  # earlier examples' activities are in the cell too
                    assert (
                        other is None
                        or other in mine
                        or client.get(f"/api/v1/activities/{other}", headers=member.headers).status_code == 200
                    ), (key, c)
        texts.append(client.get("/api/v1/alerts?limit=500", headers=member.headers).text)
        with client.websocket_connect(f"/api/v1/stream?after={start}", headers=member.headers) as ws:
            reader = StreamReader(ws)
            reader.replay()
        texts.append(str(reader.frames))
        everything = "\n".join(texts)
        found = set(map(int, re.findall(r"\d{6,}", everything)))
        assert not (found & hidden), (key, found & hidden)
        for a, aud in made:
            if key not in READERS[aud]:
                assert f"plan-{made.index((a, aud))}-secret" not in everything, key
