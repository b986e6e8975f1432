"""Anyone can recompute offline whether an agreement binds: the evidence about it and about each key that signed it,
witnessed by both parties, checked by `fusioncell verify`, which then applies the binding rule to what it holds; a
flipped byte fails it, and a revocation cannot be left out of a key's bundle."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from fusioncell.ledger import log
from fusioncell.ledger.log import Checkpointer
from tests.agreements.helpers import amendment, approved_key, key_id, propose, sign
from tests.ledger.test_evidence import cli_verify, flat
from tests.ledger.test_witness_flow import with_witnesses, witness_processes


def test_binding_recomputed_offline(client, cell, crew, signatories, clock, tmp_path: Path) -> None:
    vkey = str(log.log_signer(cell).verifier)
    with witness_processes(tmp_path, ("sy.witness.example", vkey), ("il.witness.example", vkey)) as [
        (sy_url, sy_witness, _),
        (il_url, il_witness, _),
    ]:
        with_witnesses(cell, ("SY", sy_url, sy_witness), ("IL", il_url, il_witness))
        a = propose(client, crew)["id"]
        sy, il = (approved_key(client, crew, signatories[k]) for k in ("sy", "il"))
        sign(client, signatories["sy"], sy, a)
        sign(client, signatories["il"], il, a)
        clock.advance(timedelta(hours=1))
        client.post(f"/api/v1/agreements/{a}/versions", json=amendment(text={"en": "Within 45 days."}),
                    headers=crew["us"].headers)  # fmt: skip
        sign(client, signatories["sy"], sy, a, 2)
        clock.advance(timedelta(hours=1))
        signed_at = clock.now()
        sign(client, signatories["il"], il, a, 2)
        # Israel's key, revoked from before it signed version 2: version 1 is in force again
        client.post(f"/api/v1/keys/{key_id(il)}/revoke",
                    json={"reason": "Taken", "revoked_from": (signed_at - timedelta(minutes=1)).isoformat()},
                    headers=crew["us"].headers)  # fmt: skip
        checkpointer = Checkpointer(cell)
        checkpointer.tick()
        checkpointer.witnesses.close()
    pins = ["--witness-key", str(sy_witness.verifier), "--witness-key", str(il_witness.verifier)]

    r = client.get(f"/api/v1/agreements/{a}/evidence", headers=crew["undof"].headers)
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert [b["subject"] for b in bundle["bundles"]] == [f"agreement:{a}", *sorted(f"signing-key:{key_id(s)}"
                                                                               for s in (sy, il))]  # fmt: skip
    path = tmp_path / "agreement.json"
    path.write_text(json.dumps(bundle))
    out = cli_verify(path, "--log-key", vkey, *pins, process=True)
    assert out.returncode == 0, out.stderr
    said = flat(out.stdout)
    assert "Version 1 (Phased withdrawal timeline) binds" in said
    assert "Version 2 (Phased withdrawal timeline) does not bind: IL" in said and "revoked" in said
    assert f"In force: version 1 of agreement {a}" in said
    assert client.get(f"/api/v1/agreements/{a}", headers=crew["undof"].headers).json()["in_force"] == 1

    def tampered(change) -> str:  # type: ignore[no-untyped-def]
        b = json.loads(path.read_text())
        change(b)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(b))
        result = cli_verify(bad, *pins)
        assert result.returncode == 1, result.stdout
        return flat(result.stderr)

    def signature(b):  # type: ignore[no-untyped-def]
        entry = next(e for e in b["bundles"][0]["entries"] if '"agreement.signed"' in e.get("content", ""))
        content = json.loads(entry["content"])
        content["signature"] = content["signature"][::-1]
        entry["content"] = json.dumps(content, separators=(",", ":"))

    assert "does not match its commitment" in tampered(signature)

    def drop_revocation(b):  # type: ignore[no-untyped-def]
        keyed = next(x for x in b["bundles"][1:] if x["subject"] == f"signing-key:{key_id(il)}")
        keyed["entries"] = [e for e in keyed["entries"] if '"key.revoked"' not in e.get("content", "")]

    assert "is missing from the bundle" in tampered(drop_revocation)

    def without_a_key(b):  # type: ignore[no-untyped-def]
        b["bundles"] = [x for x in b["bundles"] if x["subject"] != f"signing-key:{key_id(sy)}"]

    assert f"missing: {key_id(sy)}" in tampered(without_a_key)

    def twice(b):  # type: ignore[no-untyped-def]
        b["bundles"].append(b["bundles"][1])

    assert "given twice" in tampered(twice)

    def other_agreement(b):  # type: ignore[no-untyped-def]
        b["agreement"] = a + 1

    assert f"not agreement:{a + 1}" in tampered(other_agreement)
