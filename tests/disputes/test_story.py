"""The whole story on SQLite and PostgreSQL: an observer reports an incident, Syria opens a case on it, both parties
put statements on the one record (one of them for the mediator alone), the mediator finds; both parties' witnesses
cosign, and the evidence bundle about the case proves each step to `fusioncell verify` offline — and fails when a
byte is flipped. Each party's bundle carries only what it may read."""

from __future__ import annotations

import json
from pathlib import Path

from fusioncell.ledger import log
from fusioncell.ledger.evidence import verify
from fusioncell.ledger.log import Checkpointer
from tests.disputes.helpers import act, incident, open_case
from tests.ledger.test_evidence import cli_verify, export, flat
from tests.ledger.test_witness_flow import with_witnesses, witness_processes


def test_incident_to_finding_proved_offline(client, cell, crew, tmp_path: Path) -> None:
    vkey = str(log.log_signer(cell).verifier)
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", vkey)) as [
        (sy_url, sy, _),
        (il_url, il, _),
    ]:
        with_witnesses(cell, ("SY", sy_url, sy), ("IL", il_url, il))
        reported = incident(client, crew["undof"])
        d = open_case(client, crew["sy"], incident=reported)["id"]
        act(client, crew["il"], d, "acknowledge")
        act(client, crew["il"], d, "respond", {"text": "A weather balloon, not a drone: track attached."})
        r = client.post(f"/api/v1/disputes/{d}/statements",
                        json={"text": "Our own radar lost it at 0415Z.", "audience": "mediated:SY"},
                        headers=crew["sy"].headers)  # fmt: skip
        assert r.status_code == 201, r.text
        act(client, crew["us"], d, "review")
        act(client, crew["us"], d, "finding", {"finding": "inconclusive", "reasons": "The tracks cannot be matched."})
        checkpointer = Checkpointer(cell)
        checkpointer.tick()
        checkpointer.witnesses.close()
    pins = ["--witness-key", str(sy.verifier), "--witness-key", str(il.verifier)]

    sy_bundle = export(client, crew["sy"], f"dispute:{d}")
    actions = [json.loads(e["content"])["@action"] for e in sy_bundle["entries"][1:]]
    assert actions == ["dispute.opened", "dispute.acknowledged", "dispute.responded", "dispute.statement",
                       "dispute.review_started", "dispute.resolved"]  # fmt: skip
    il_bundle = export(client, crew["il"], f"dispute:{d}")
    il_actions = [json.loads(e["content"])["@action"] for e in il_bundle["entries"][1:]]
    assert "dispute.statement" not in il_actions and len(il_actions) == 5  # SY's word to the mediator is not IL's
    assert "radar lost it" not in json.dumps(il_bundle)

    path = tmp_path / "case.json"
    path.write_text(json.dumps(sy_bundle))
    r = cli_verify(path, "--log-key", vkey, *pins, process=True)
    assert r.returncode == 0, r.stderr
    assert "Verified" in r.stdout and "sy.witness.example" in flat(r.stdout)
    assert verify(il_bundle, witness_keys=[str(sy.verifier), str(il.verifier)]).complete

    # the finding changed by one byte: the bundle fails, naming the entry
    found = next(i for i, e in enumerate(sy_bundle["entries"]) if "dispute.resolved" in e["content"])
    index = json.loads(sy_bundle["entries"][found]["leaf"])["index"]
    sy_bundle["entries"][found]["content"] = sy_bundle["entries"][found]["content"].replace(
        "inconclusive", "inconclusivE"
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sy_bundle))
    r = cli_verify(bad, *pins)
    assert r.returncode == 1 and f"entry {index}: the content does not match its commitment" in flat(r.stderr)

    # the bundle about the incident accounts for the case opened on it and each change of its state (not its words)
    about_incident = export(client, crew["il"], f"incident:{reported}")
    assert [json.loads(e["content"])["@action"] for e in about_incident["entries"][1:]] == [
        "incident.reported", "dispute.opened", "dispute.acknowledged", "dispute.responded", "dispute.review_started",
        "dispute.resolved"]  # fmt: skip
    assert verify(about_incident, witness_keys=[str(sy.verifier), str(il.verifier)]).complete
