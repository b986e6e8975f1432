"""Incidents with their evidence, and the map exported as GeoJSON and KML: exactly what the reader may see."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from fusioncell.cli import app as cli
from fusioncell.deescalation.models import EvidenceFile, Incident
from tests.conftest import START, TEST_PASSWORD, ledger_size, table_count
from tests.deescalation.helpers import QUNEITRA, activity
from tests.server import Server, free_port

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
PDF = b"%PDF-1.7\n" + b"%" * 100


def upload(name: str, kind: str, data: bytes) -> dict[str, str]:
    return {"filename": name, "content_type": kind, "content_base64": base64.b64encode(data).decode()}


def incident(**overrides):  # type: ignore[no-untyped-def]
    body = {
        "audience": "joint",
        "kind": "airspace-violation",
        "occurred_at": (START - timedelta(hours=2)).isoformat(),
        "place": {"type": "Point", "coordinates": QUNEITRA},
        "description": "A drone crossed the area of separation at low altitude.",
        "zone": "area-of-separation",
        "evidence": [upload("photo.png", "image/png", PNG), upload("log.txt", "text/plain", b"0412Z drone seen\n")],
    }
    return body | overrides


def test_an_observer_reports_an_incident_with_evidence_and_the_ledger_commits_to_each_file(client, cell, crew) -> None:
    r = client.post("/api/v1/incidents", json=incident(), headers=crew["undof"].headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert [e["sha256"] for e in made["evidence"]] == [
        hashlib.sha256(PNG).hexdigest(),
        hashlib.sha256(b"0412Z drone seen\n").hexdigest(),
    ]
    content = client.get(f"/api/v1/ledger/entries/{made['ledger_index']}/content", headers=crew["il"].headers).json()
    assert json.dumps(made["evidence"][0]["sha256"]) in json.dumps(content)
    png = client.get(
        f"/api/v1/incidents/{made['id']}/evidence/{made['evidence'][0]['sha256']}", headers=crew["sy"].headers
    )
    assert png.content == PNG and png.headers["content-type"] == "image/png"
    assert png.headers["x-content-type-options"] == "nosniff" and "attachment" in png.headers["content-disposition"]
    # a mediated incident is the reporter's and the mediator's
    hidden = client.post(
        "/api/v1/incidents", json=incident(audience="mediated:SY", evidence=[]), headers=crew["sy"].headers
    ).json()
    assert client.get(f"/api/v1/incidents/{hidden['id']}", headers=crew["il"].headers).status_code == 404
    secret = client.post("/api/v1/incidents", json=incident(audience="mediated:SY"), headers=crew["sy"].headers).json()
    evidence = f"/api/v1/incidents/{secret['id']}/evidence/{secret['evidence'][0]['sha256']}"
    assert client.get(evidence, headers=crew["il"].headers).status_code == 404
    assert client.get(evidence, headers=crew["us"].headers).content == PNG
    assert client.get(f"/api/v1/incidents/{hidden['id']}", headers=crew["us"].headers).status_code == 200
    listed = [i["id"] for i in client.get("/api/v1/incidents", headers=crew["il"].headers).json()["items"]]
    assert listed == [made["id"]]


BAD_INCIDENTS = [
    ({"evidence": [upload("photo.png", "image/png", PDF)]}, "declared image/png but its bytes are application/pdf"),
    (
        {"evidence": [upload("x.exe", "application/octet-stream", b"MZ\x90\x00" + bytes(50))]},
        "none of the accepted",
    ),
    ({"evidence": [upload("big.pdf", "application/pdf", b"%PDF-" + bytes(530 * 1024))]}, "at most 524,288 bytes"),
    ({"evidence": [upload("a.png", "image/png", PNG), upload("b.png", "image/png", PNG)]}, "attached twice"),
    ({"evidence": [{"filename": "a", "content_type": "text/plain", "content_base64": "@@@"}]}, "not base64"),
    (
        {"place": {"type": "Polygon", "coordinates": [[[36, 33], [36.1, 33.1], [36.1, 33], [36, 33.1], [36, 33]]]}},
        "Self-intersection",
    ),
    ({"occurred_at": (START + timedelta(hours=1)).isoformat()}, "in the future"),
    ({"zone": "atlantis"}, "no zone"),
    ({"activity": 123456}, "no activity 123456"),
    ({"audience": "mediated:IL"}, "not 'mediated:IL'"),
]


def test_bad_incidents_are_refused_and_write_nothing(client, cell, crew) -> None:
    before = (ledger_size(cell), table_count(cell, Incident), table_count(cell, EvidenceFile))
    for change, words in BAD_INCIDENTS:
        r = client.post("/api/v1/incidents", json=incident(**change), headers=crew["sy"].headers)
        assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert (ledger_size(cell), table_count(cell, Incident), table_count(cell, EvidenceFile)) == before


def test_a_hidden_activity_cannot_be_named_in_an_incident(client, cell, crew) -> None:
    secret = client.post("/api/v1/activities", json=activity(audience="mediated:SY"), headers=crew["sy"].headers).json()
    r = client.post("/api/v1/incidents", json=incident(activity=secret["id"]), headers=crew["il"].headers)
    assert r.status_code == 422 and r.json()["field"] == "activity"
    # nor, by its own party, in an incident for a wider audience than the activity's
    r = client.post("/api/v1/incidents", json=incident(activity=secret["id"]), headers=crew["sy"].headers)
    assert r.status_code == 422 and "mediated:SY" in r.json()["detail"]
    ok = client.post("/api/v1/incidents", json=incident(activity=secret["id"], audience="mediated:SY"),
                     headers=crew["sy"].headers)  # fmt: skip
    assert ok.status_code == 201


def _scene(client, crew):  # type: ignore[no-untyped-def]
    """A joint activity in conflict with the area of separation, SY's withheld plan, IL's overlapping one, and
    two incidents."""
    sy_joint = client.post(
        "/api/v1/activities",
        json=activity(
            geometry={"type": "Point", "coordinates": QUNEITRA},
            acknowledge=["zone:area-of-separation@1:forbidden"],
            description="joint-exercise",
        ),
        headers=crew["sy"].headers,
    ).json()
    secret = client.post(
        "/api/v1/activities",
        json=activity(audience="mediated:SY", description="secret-plan"),
        headers=crew["sy"].headers,
    ).json()
    il = client.post(
        "/api/v1/activities",
        json=activity(acknowledge=["withheld"], description="il-exercise"),
        headers=crew["il"].headers,
    ).json()
    shown = client.post("/api/v1/incidents", json=incident(evidence=[]), headers=crew["undof"].headers).json()
    hidden = client.post(
        "/api/v1/incidents",
        json=incident(audience="mediated:SY", evidence=[], description="sy-only-incident"),
        headers=crew["sy"].headers,
    ).json()
    return sy_joint, secret, il, shown, hidden


def test_exports_hold_exactly_what_the_reader_may_see(client, cell, crew) -> None:
    sy_joint, secret, il, shown, hidden = _scene(client, crew)
    seen = client.get("/api/v1/map/export?format=geojson", headers=crew["il"].headers)
    assert seen.headers["content-type"] == "application/geo+json"
    layers: dict[str, list] = {}
    for f in seen.json()["features"]:
        layers.setdefault(f["properties"]["layer"], []).append(f)
    assert len(layers["zones"]) == 7
    assert {f["properties"]["activity"] for f in layers["activities"]} == {sy_joint["id"], il["id"]}
    assert {f["properties"]["incident"] for f in layers["incidents"]} == {shown["id"]}
    kinds = sorted((f["properties"]["activity"] == il["id"], f["properties"]["kind"]) for f in layers["conflicts"])
    assert kinds == [(False, "zone"), (True, "withheld")]
    withheld = next(f for f in layers["conflicts"] if f["properties"]["kind"] == "withheld")
    assert withheld["geometry"] == il["geometry"]  # placed on IL's own activity: nothing of the plan
    for leak in (str(secret["id"]), "secret-plan", str(hidden["id"]), "sy-only-incident"):
        assert leak not in seen.text
    mediator = client.get("/api/v1/map/export?format=geojson", headers=crew["us"].headers).text
    assert str(secret["id"]) in mediator and "sy-only-incident" in mediator
    document = client.get("/api/v1/map/export?format=kml", headers=crew["il"].headers)
    assert document.headers["content-type"] == "application/vnd.google-earth.kml+xml"
    root = ET.fromstring(document.content)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == len(seen.json()["features"])
    assert root.find(".//k:Placemark/k:Polygon/k:outerBoundaryIs/k:LinearRing/k:coordinates", ns) is not None
    for leak in (str(secret["id"]), "secret-plan", "sy-only-incident"):
        assert leak.encode() not in document.content
    assert client.get("/api/v1/map/export?format=shp", headers=crew["il"].headers).status_code == 422
    admin = client.get("/api/v1/map/export", headers=crew["sy_admin"].headers).json()
    assert admin["features"] == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_fusioncell_export_writes_the_file_a_gis_opens(backend, client, cell, crew, tmp_path) -> None:
    _scene(client, crew)
    server = Server(backend, free_port())
    server.start()
    try:
        env = {"FUSIONCELL_CREDENTIALS": str(tmp_path / "il.json")}
        runner = CliRunner()
        login = runner.invoke(
            cli,
            ["login", "il.liaison", "--server", server.url, "--password-stdin"],
            input=TEST_PASSWORD + "\n",
            env=env,
        )
        assert login.exit_code == 0, login.output
        out = tmp_path / "map.kml"
        result = runner.invoke(cli, ["export", "--format", "kml", "--out", str(out)], env=env)
        assert result.exit_code == 0, result.output
        assert "Wrote" in result.output and out.read_bytes().startswith(b"<?xml")
        geo = runner.invoke(cli, ["export"], env=env)
        assert json.loads(geo.stdout)["type"] == "FeatureCollection"
        wrong = runner.invoke(cli, ["export", "--format", "shapefile"], env=env)
        assert wrong.exit_code == 1 and "use --format geojson or --format kml" in wrong.output
        folder = runner.invoke(cli, ["export", "--out", str(tmp_path)], env=env)
        assert folder.exit_code == 1 and "is a directory" in folder.output
    finally:
        server.kill()
