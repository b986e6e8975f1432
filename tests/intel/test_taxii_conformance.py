"""TAXII 2.1's MUST requirements a careful client trips over (OASIS TAXII 2.1, sections named): DELETE filtered by
specification version, objects without spec_version, the media type and Allow on every answer, and no empty lists."""

from __future__ import annotations

import uuid

from tests.conftest import ledger_size
from tests.intel.stixdata import indicator
from tests.intel.test_taxii import ROOT, TAXII, add, basic, collections, taxii_error


def _joint(client) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    us = basic("us.mediator")
    return us, collections(client, us)["Joint"]["id"]


def test_delete_keeps_what_match_spec_version_leaves_out(client, cell, crew) -> None:
    """§5.7 and §3.4.1: DELETE takes out only versions of the named specification version; here, none."""
    us, joint = _joint(client)
    sent = indicator(name="Launcher at grid 37S")
    assert add(client, us, joint, [sent]).status_code == 202
    path = f"{ROOT}collections/{joint}/objects/{sent['id']}/"
    before = ledger_size(cell)
    r = client.delete(path + "?match[spec_version]=2.0", headers=us)
    assert r.status_code == 200 and r.headers["content-type"] == TAXII
    assert ledger_size(cell) == before  # nothing taken out, nothing recorded
    assert client.get(path, headers=us).json()["objects"] == [sent]
    # the version named by its own specification version goes
    assert client.delete(path + "?match[spec_version]=2.1", headers=us).status_code == 200
    assert ledger_size(cell) == before + 1
    taxii_error(client.get(path, headers=us), 404)
    # an object the collection never held is still not found
    taxii_error(client.delete(f"{ROOT}collections/{joint}/objects/indicator--{uuid.uuid4()}/", headers=us), 404)


def test_an_object_without_spec_version_is_stix_2_0_and_refused(client, cell, crew) -> None:
    """STIX 2.1 §3.2: without spec_version an object is 2.0 (a cyber-observable excepted, new in 2.1)."""
    us, joint = _joint(client)
    legacy = {k: v for k, v in indicator().items() if k != "spec_version"}
    before = ledger_size(cell)
    body = taxii_error(add(client, us, joint, [legacy]), 422)
    assert [e["pointer"] for e in body["details"]["errors"]] == ["/objects/0/spec_version"], body
    assert "STIX 2.0" in body["details"]["errors"][0]["reason"]
    assert body["details"]["errors"][0]["field"] == "objects.0.spec_version"  # as the envelope names it
    r = client.post("/api/v1/intel/items", json={"stix": [legacy]}, headers=crew["sy_analyst"].headers)
    assert r.status_code == 422 and [e["pointer"] for e in r.json()["errors"]] == ["/stix/0/spec_version"]
    assert ledger_size(cell) == before
    # not shadowing the 2.1 versions of the same object: they are served as they were
    current = indicator()
    assert add(client, us, joint, [current]).status_code == 202
    taxii_error(add(client, us, joint, [{**{k: v for k, v in current.items() if k != "spec_version"},
                                         "modified": "2026-03-02T05:30:00.000Z"}]), 422)  # fmt: skip
    served = client.get(f"{ROOT}collections/{joint}/objects/{current['id']}/", headers=us).json()["objects"]
    assert served == [current]
    # whatever the type holds (a list, a number), the answer is a 422, never a server error
    for odd in (["indicator"], 7, None):
        r = client.post("/api/v1/intel/items", json={"stix": [{**legacy, "type": odd}]},
                        headers=crew["sy_analyst"].headers)  # fmt: skip
        assert r.status_code == 422, (odd, r.text)
    # a cyber-observable may leave it out: it is 2.1
    address = {"type": "ipv4-addr", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "198.51.100.9",
               "object_marking_refs": [current["object_marking_refs"][0]]}  # fmt: skip
    assert add(client, us, joint, [address]).status_code == 202


def test_every_answer_under_taxii2_is_taxii_and_a_405_lists_every_method(client, cell, crew) -> None:
    """§3.1 and §3.6.1: the TAXII media type on every response, errors included; RFC 9110: Allow names every
    method the resource supports."""
    us, joint = _joint(client)
    taxii_error(client.get("/taxii2/other-root/", headers=us), 404)
    taxii_error(client.get("/taxii2/cell/collections/not-a-collection/objects/", headers=us), 404)
    taxii_error(client.get("/taxii2/cell/no/such/path/", headers=us), 404)
    objects = f"{ROOT}collections/{joint}/objects/"
    r = client.put(objects, headers=us)
    taxii_error(r, 405)
    assert r.headers["allow"] == "GET, POST"
    r = client.post(objects + f"indicator--{uuid.uuid4()}/", headers=us)
    taxii_error(r, 405)
    assert r.headers["allow"] == "DELETE, GET"
    # a static file says what it serves itself, and a route that serves HEAD too lists it
    assert client.post("/static/fusioncell.css").headers["allow"] == "GET, HEAD"
    assert client.put("/api/v1/openapi.json").headers["allow"] == "GET, HEAD"
    # the REST API says so the same way, as problem+json
    r = client.delete("/api/v1/messages", headers=crew["sy"].headers)
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    assert r.headers["content-type"].startswith("application/problem+json")


def test_no_empty_list_is_sent(client, cell, crew) -> None:
    """§2: "Empty lists are prohibited in TAXII": an empty page has no objects, manifest or versions at all."""
    us, joint = _joint(client)
    sent = indicator()
    assert add(client, us, joint, [sent]).status_code == 202
    base = f"{ROOT}collections/{joint}/"
    for path in ("objects/?match[type]=malware", "manifest/?match[type]=malware",
                 f"objects/{sent['id']}/?match[version]=2020-01-01T00:00:00Z",
                 f"objects/{sent['id']}/versions/?match[spec_version]=2.0"):  # fmt: skip
        r = client.get(base + path, headers=us)
        assert r.status_code == 200 and r.headers["content-type"] == TAXII, (path, r.text)
        assert r.json() == {"more": False}, (path, r.text)
