"""Whatever cases are opened into whichever audiences, and whatever statements narrower than their case are added,
each person reads exactly what the audience rule allows on every read path: the list, the case, its record, the
evidence files, the metrics, the alerts, the ledger contents and the stream. A `mediated:SY` statement never reaches
IL."""

from __future__ import annotations

import base64
import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ledger_size
from tests.disputes.helpers import case
from tests.traffic.helpers import StreamReader

READERS = {
    "joint": {"sy", "il", "us", "undof", "sy_analyst"},
    "mediated:SY": {"sy", "us", "sy_analyst"},
    "mediated:IL": {"il", "us"},
    "mediator": {"us"},
}
# who may open into which audience, against whom
OPENINGS = [("sy", "joint", "IL"), ("il", "joint", "SY"), ("undof", "joint", "IL"), ("us", "mediated:SY", "SY"),
            ("us", "mediated:IL", "IL"), ("sy", "mediated:SY", None)]  # fmt: skip
# who may state into which audience within a joint case
STATEMENTS = [("sy", "mediated:SY"), ("il", "mediated:IL"), ("us", "mediator"), ("il", "joint"), ("undof", "joint"),
              ("us", "mediated:SY")]  # fmt: skip

plan = st.lists(
    st.tuples(st.sampled_from(range(len(OPENINGS))), st.lists(st.sampled_from(range(len(STATEMENTS))), max_size=3)),
    min_size=1,
    max_size=4,
)


SERIAL = itertools.count()  # markers unique across examples, which share one cell


def secret(n: int) -> bytes:
    return f"secret-{n}-evidence\n".encode()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=plan)
def test_each_reader_reads_exactly_its_audiences_cases_and_statements(client, cell, crew, cases) -> None:
    start = ledger_size(cell) - 1
    made: list[tuple[int, str, str]] = []  # (case id, audience, marker)
    said: list[tuple[int, int, str, str, str]] = []  # (case, statement, audience, marker, sha256)
    for opening, statements in cases:
        who, audience, respondent = OPENINGS[opening]
        if respondent is None:
            # a party's case against itself is refused; the mediator opens it instead
            r = client.post("/api/v1/disputes", json=case(audience=audience, respondent="SY"),
                            headers=crew[who].headers)  # fmt: skip
            assert r.status_code == 422
            continue
        marker = f"case-{next(SERIAL)}-secret"
        body = case(audience=audience, respondent=respondent, title=marker, complaint=marker, evidence=[])
        r = client.post("/api/v1/disputes", json=body, headers=crew[who].headers)
        assert r.status_code == 201, r.text
        dispute = r.json()["id"]
        made.append((dispute, audience, marker))
        for pick in statements:
            author, within = STATEMENTS[pick]
            if audience != "joint":
                within = audience
                author = "us"
            n = next(SERIAL)
            data = secret(n)
            body = {"text": f"statement-{n}-secret", "audience": within,
                    "evidence": [{"filename": "note.txt", "content_type": "text/plain",
                                  "content_base64": base64.b64encode(data).decode()}]}  # fmt: skip
            r = client.post(f"/api/v1/disputes/{dispute}/statements", json=body, headers=crew[author].headers)
            assert r.status_code == 201, (author, within, r.text)
            said.append((dispute, r.json()["id"], within, f"statement-{n}-secret", r.json()["evidence"][0]["sha256"]))
    ids = {d for d, *_ in made} | {s for _, s, *_ in said}
    for key, member in crew.items():
        if key == "sy_admin":
            continue  # an admin reads no content at all (tests/test_policy)
        cases_seen = {d for d, aud, _ in made if key in READERS[aud]}
        statements_seen = {s for d, s, aud, *_ in said if key in READERS[aud] and d in cases_seen}
        hidden = ids - cases_seen - statements_seen
        texts = []
        listed = client.get("/api/v1/disputes?limit=500", headers=member.headers).json()["items"]
        assert {c["id"] for c in listed} & {d for d, *_ in made} == cases_seen, key
        texts.append(str(listed))
        for dispute, aud, _ in made:
            r = client.get(f"/api/v1/disputes/{dispute}", headers=member.headers)
            assert r.status_code == (200 if dispute in cases_seen else 404), (key, aud)
            if r.status_code == 200:
                texts.append(r.text)
                record = {s["id"] for s in r.json()["statements"]}
                assert record - {s["id"] for s in r.json()["statements"] if s["kind"] == "complaint"} == {
                    s for d, s, *_ in said if d == dispute and s in statements_seen
                }, key
        for dispute, statement, aud, marker, sha in said:
            r = client.get(f"/api/v1/disputes/{dispute}/statements/{statement}/evidence/{sha}", headers=member.headers)
            assert r.status_code == (200 if statement in statements_seen else 404), (key, aud)
            if r.status_code == 200:
                assert r.content == secret(int(marker.split("-")[1]))
        headers = client.get(f"/api/v1/ledger/entries?start={start + 1}", headers=member.headers)
        texts.append(headers.text)
        for entry in headers.json()["items"]:
            r = client.get(f"/api/v1/ledger/entries/{entry['index']}/content", headers=member.headers)
            if r.status_code == 200:
                texts.append(r.text)
        texts.append(client.get("/api/v1/alerts?limit=500", headers=member.headers).text)
        metrics = client.get("/api/v1/disputes/metrics", headers=member.headers).json()
        # the metrics count exactly the cases the reader lists (earlier examples' cases are in the cell too)
        assert metrics["open"] == sum(c["state"] == "open" for c in listed), key
        with client.websocket_connect(f"/api/v1/stream?after={start}", headers=member.headers) as ws:
            reader = StreamReader(ws)
            reader.replay()
        texts.append(str(reader.frames))
        everything = "\n".join(texts)
        assert not (set(map(int, re.findall(r"\d{6,}", everything))) & hidden), key
        for dispute, _, marker in made:
            if dispute not in cases_seen:
                assert marker not in everything, key
        for _, statement, _, marker, _ in said:
            if statement not in statements_seen:
                assert marker not in everything, (key, marker)
