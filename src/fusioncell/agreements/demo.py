"""The demo's binding timeline, through the real commands: the signatories' keys made (their private halves under
`<data>/keys/`, owner-only, for `fusioncell sign` later), registered and approved; the charter's illustrative phased
withdrawal proposed as dated from 46 days ago and signed by both parties; the first phase verified by UNDOF, the second
overdue (which opens a case), the third due within the week, the fourth pending."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from fusioncell.agreements import binding, service
from fusioncell.agreements.schemas import AgreementCreate, AttestationCreate, SignatureCreate
from fusioncell.cell import Cell
from fusioncell.ledger.log import write_private_key
from fusioncell.ledger.note import Signer
from fusioncell.policy import Principal, Role
from fusioncell.scheduler.service import Scheduler
from fusioncell.signing import service as keys

US = Principal("us.mediator", "US", frozenset({Role.MEDIATOR, Role.LIAISON}))
UNDOF = Principal("undof.observer", "UNDOF", frozenset({Role.OBSERVER}))
SIGNATORIES = (Principal("sy.signatory", "SY", frozenset({Role.SIGNATORY})),
               Principal("il.signatory", "IL", frozenset({Role.SIGNATORY})))  # fmt: skip
TIMELINE = "phased-withdrawal"
STARTED_DAYS_AGO = 46


def seed_timeline(cell: Cell, key_dir: Path) -> int:
    """Propose, sign and verify the demo's timeline; returns the agreement's id."""

    def run(act, principal: Principal, **kwargs):  # type: ignore[no-untyped-def]
        with cell.command() as uow:
            return act(cell=cell, uow=uow, principal=principal, **kwargs)

    signers = {}
    for person in SIGNATORIES:
        signer = Signer.generate(person.username)
        write_private_key(key_dir / f"{person.username}.key", signer)
        key = run(keys.register, person, verifier=str(signer.verifier))
        run(keys.approve, US, key_id=key.key_id)
        signers[person.username] = (signer, key.key_id)
    start = (cell.clock.now() - timedelta(days=STARTED_DAYS_AGO)).replace(hour=0, minute=0, second=0, microsecond=0)
    draft = AgreementCreate.model_validate({**service.draft_from_timeline(cell, TIMELINE, start), "audience": "joint"})
    agreement = run(service.propose, US, body=draft)
    with cell.reading() as session:
        version = session.get(service.AgreementVersion, (agreement.id, 1))
    assert version is not None
    for person in SIGNATORIES:
        signer, key_id = signers[person.username]
        message = binding.signing_message(cell.charter.mechanism.log_origin, agreement.id, 1, version.digest, key_id)
        signature = base64.b64encode(signer.sign(message)).decode()
        run(service.sign, person, agreement_id=agreement.id, version=1,
            body=SignatureCreate(key_id=key_id, signature=signature))  # fmt: skip
    run(
        service.attest,
        UNDOF,
        agreement_id=agreement.id,
        key="separation-north",
        body=AttestationCreate(
            verdict="verified",
            note="Patrols from OP-60 to OP-73 found every position north of Quneitra vacated; no forces seen.",
        ),
    )
    # the second phase's date has passed unverified: its deadline fires now, as the running cell's scheduler would
    overdue = Scheduler(cell)
    overdue.register(service.MILESTONE_OVERDUE, service.handle_milestone_overdue)
    overdue.run_due()
    return agreement.id
