"""The OpenAPI document declares the text rule (fusioncell.text) that every request body and parameter follows:
a string's `pattern` accepts exactly what the API accepts (tests/test_text.py holds the pattern to the rule)."""

from __future__ import annotations

from fusioncell import text

LINE, LINES = text.pattern(lines=False), text.pattern(lines=True)


def _string(schema: dict) -> dict:
    return next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "string")


def test_the_document_declares_the_rule_of_each_string(client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    expected = {
        ("MessageCreate", "subject"): LINE,
        ("MessageCreate", "body"): LINES,
        ("Translation", "subject"): LINE,
        ("Translation", "body"): LINES,
        ("AckCreate", "readback"): LINES,
        ("VerdictCreate", "note"): LINES,
        ("TokenRequest", "username"): LINE,
        ("TokenRequest", "password"): r"^[^\x00]*$",  # a secret: compared as typed
        ("IntelDecline", "reason"): LINES,
        ("IntelRevoke", "reason"): LINES,
        ("IntelRelease", "audience"): LINE,
        ("SightingCreate", "description"): LINES,
        ("SightingCreate", "sighting_of"): LINE,
    }
    for (name, field), pattern in expected.items():
        assert _string(schemas[name]["properties"][field])["pattern"] == pattern, (name, field)
    assert schemas["MessageCreate"]["properties"]["body"]["x-text"] == "lines"
    assert schemas["RedactionIn"]["properties"]["remove"]["items"]["pattern"] == LINE
    # STIX content follows the rule as the STIX check applies it, value by value: no pattern can say it
    assert schemas["IntelSubmit"]["properties"]["stix"]["x-text"] == "stix"
    alerts = document["paths"]["/api/v1/alerts"]["get"]["parameters"]
    assert _string(next(p for p in alerts if p["name"] == "target")["schema"])["pattern"] == LINE
