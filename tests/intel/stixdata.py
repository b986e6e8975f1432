"""STIX 2.1 content for the tests: a party's indicator about a launch site, with its own identity as author."""

from __future__ import annotations

import uuid
from typing import Any

from fusioncell.intel.markings import Tlp

CREATED = "2026-03-02T05:00:00.000Z"


def identity(name: str = "Syrian liaison intelligence desk") -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid5(uuid.NAMESPACE_DNS, name)}",
        "created": CREATED,
        "modified": CREATED,
        "name": name,
        "identity_class": "organization",
        "object_marking_refs": [Tlp.GREEN.marking_id],
    }


def indicator(tlp: Tlp = Tlp.GREEN, author: dict | None = None, **overrides: Any) -> dict[str, Any]:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": CREATED,
        "modified": CREATED,
        "name": "Drone launch control uplink",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2026-03-02T05:00:00Z",
        "object_marking_refs": [tlp.marking_id],
    }
    if author is not None:
        obj["created_by_ref"] = author["id"]
    obj.update(overrides)
    return {k: v for k, v in obj.items() if v is not None}


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
