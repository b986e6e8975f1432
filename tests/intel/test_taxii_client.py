"""TAXII 2.1 with a client nobody here wrote (taxii2-client, as MISP and OpenCTI users run it): discovery, the API
root, collections, adding objects and waiting for their status, paging, manifest, versions and delete; what comes
out is what went in."""

from __future__ import annotations

import pytest
import requests
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Server, as_pages

from fusioncell.app import create_app
from tests.conftest import TEST_PASSWORD
from tests.intel.stixdata import indicator
from tests.server import serving


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r):  # type: ignore[no-untyped-def]
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@pytest.fixture
def taxii(cell):  # type: ignore[no-untyped-def]
    with serving(create_app(cell, run_scheduler=False)) as url:
        yield url + "/taxii2/"


def collections(root: ApiRoot) -> dict[str, object]:
    return {c.title: c for c in root.collections}


def test_the_whole_round_with_taxii2_client(taxii, client, cell, crew) -> None:
    sy = Server(taxii, user="sy.analyst", password=TEST_PASSWORD)
    assert sy.title and len(sy.api_roots) == 1 and sy.default.url == sy.api_roots[0].url
    root = sy.api_roots[0]
    assert root.versions == ["application/taxii+json;version=2.1"] and root.max_content_length > 0
    mine = collections(root)
    assert set(mine) == {"Joint", "SY and the mediator", "SY submissions"}
    submissions = mine["SY submissions"]
    assert submissions.can_write and not submissions.can_read

    sent = [indicator(name=f"Launcher {i}") for i in range(23)]
    status = submissions.add_objects({"objects": sent}, wait_for_completion=True, poll_interval=0.1)
    assert status.status == "complete" and status.success_count == 23 and status.failure_count == 0
    assert {s["id"] for s in status.successes} == {o["id"] for o in sent}
    again = submissions.add_objects({"objects": sent}, wait_for_completion=True, poll_interval=0.1)
    assert again.success_count == 23  # an exact duplicate: a success that adds nothing
    queue = client.get("/api/v1/intel/items?state=submitted", headers=crew["us"].headers).json()["items"]
    assert len(queue) == 1 and queue[0]["object_count"] == 23

    # before release, IL's joint collection holds nothing
    il_root = Server(taxii, user="il.liaison", password=TEST_PASSWORD).api_roots[0]
    il_joint = collections(il_root)["Joint"]
    assert "SY submissions" not in collections(il_root)
    assert il_joint.get_objects().get("objects", []) == []

    r = client.post(
        f"/api/v1/intel/items/{queue[0]['id']}/release", json={"audience": "joint"}, headers=crew["us"].headers
    )
    assert r.status_code == 200, r.text

    # paging with as_pages: every object, once, equal to what was sent
    pages = list(as_pages(il_joint.get_objects, per_request=5))
    assert len(pages) == 5 and [p["more"] for p in pages] == [True] * 4 + [False]
    received = [o for p in pages for o in p["objects"]]
    assert sorted(received, key=lambda o: o["id"]) == sorted(sent, key=lambda o: o["id"])
    manifest = [m for p in as_pages(il_joint.get_manifest, per_request=10) for m in p["objects"]]
    assert {(m["id"], m["media_type"]) for m in manifest} == {
        (o["id"], "application/stix+json;version=2.1") for o in sent
    }

    # the mediator publishes a newer version straight into the joint collection: versions, latest by default
    us_root = ApiRoot(il_root.url, user="us.mediator", password=TEST_PASSWORD)
    us_joint = collections(us_root)["Joint"]
    assert us_joint.can_write
    newer = {**sent[0], "modified": "2026-03-02T07:30:00.000Z", "name": "Launcher 0 (moved)"}
    assert us_joint.add_objects({"objects": [newer]}, wait_for_completion=True, poll_interval=0.1).success_count == 1
    versions = il_joint.object_versions(sent[0]["id"])["versions"]
    assert versions == ["2026-03-02T05:00:00.000000Z", "2026-03-02T07:30:00.000000Z"]
    assert il_joint.get_object(sent[0]["id"])["objects"] == [newer]
    both = il_joint.get_object(sent[0]["id"], version="all")["objects"]
    assert both == [sent[0], newer]

    # delete: the mediator takes it out; IL no longer receives it
    us_joint.delete_object(sent[1]["id"])
    with pytest.raises(requests.HTTPError) as gone:
        il_joint.get_object(sent[1]["id"])
    assert gone.value.response.status_code == 404
    # a party may not delete
    with pytest.raises((requests.HTTPError, TAXIIServiceException)):
        il_joint.delete_object(sent[2]["id"])

    # a bearer token works as well as Basic
    token = crew["il"].token
    bearer_joint = collections(ApiRoot(il_root.url, auth=Bearer(token)))["Joint"]
    assert len(bearer_joint.get_objects(limit=1000)["objects"]) == 22


def test_wrong_password_is_refused(taxii, crew) -> None:
    with pytest.raises(requests.HTTPError) as refused:
        _ = Server(taxii, user="il.liaison", password="not-the-passphrase").title
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["content-type"] == "application/taxii+json;version=2.1"
