"""Demo traffic, so a newcomer sees the closed loop at once: a little in every track, at every stage."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fusioncell.cell import Cell
from fusioncell.policy import Principal, Role
from fusioncell.traffic import service
from fusioncell.traffic.schemas import MessageCreate, Verdict


def _person(username: str, delegation: str, *roles: str) -> Principal:
    return Principal(username=username, delegation=delegation, roles=frozenset(Role(r) for r in roles))


SY = _person("sy.liaison", "SY", "liaison")
IL = _person("il.liaison", "IL", "liaison")
US = _person("us.mediator", "US", "mediator", "liaison")


@dataclass(frozen=True)
class Scene:
    sender: Principal
    draft: dict
    ack_by: Principal | None = None
    readback: str | None = None
    verdict: Verdict | None = None
    note: str | None = None


SCENES = [
    Scene(
        SY,
        dict(
            track="de-escalation",
            audience="joint",
            precedence="FLASH",
            marker="WARNING",
            subject="Convoy crossing the area of separation at 0600Z",
            body="Four logistics vehicles will cross the buffer zone near Quneitra at 0600Z, escorted, unarmed. "
            "Request de-confliction with patrols on the Alpha line.",
            readback_required=True,
        ),
        ack_by=IL,
        readback="Four unarmed logistics vehicles cross the buffer zone near Quneitra at 0700Z.",
        verdict=Verdict.NEGATIVE,
        note="0600Z, not 0700Z",
    ),
    Scene(
        IL,
        dict(
            track="de-escalation",
            audience="joint",
            precedence="IMMEDIATE",
            marker="INTENTION",
            subject="Airspace: training flights south of the ceasefire line",
            body="Two training sorties between 1400Z and 1500Z, at least 10 km south of the ceasefire line. "
            "No airspace violation is intended.",
            readback_required=True,
        ),
        ack_by=SY,
        readback="Two sorties 1400Z to 1500Z, 10 km or more south of the ceasefire line.",
        verdict=Verdict.CONFIRMED,
    ),
    Scene(
        US,
        dict(
            track="intelligence",
            audience="joint",
            precedence="PRIORITY",
            marker="ADVICE",
            subject="Reports of armed movement near Beit Jinn",
            body="The mediator has received reports of armed movement near Beit Jinn. Both sides are asked to "
            "verify and report through the cell before any action.",
        ),
        ack_by=SY,
    ),
    Scene(
        SY,
        dict(
            track="diplomatic",
            audience="mediated:SY",
            precedence="ROUTINE",
            marker="REQUEST",
            subject="Withdrawal timeline for the next round",
            body="Damascus asks the mediator to table a clear and binding timeline for withdrawal as the first "
            "item of the next round.",
        ),
        ack_by=US,
    ),
    Scene(
        IL,
        dict(
            track="commercial",
            audience="joint",
            precedence="ROUTINE",
            marker="QUESTION",
            subject="Water-sharing pilot: counterpart contact",
            body="Who will be the counterpart contact for the water-sharing pilot discussed in Paris?",
        ),
    ),
    Scene(
        US,
        dict(
            track="humanitarian",
            audience="joint",
            precedence="PRIORITY",
            marker="INSTRUCTION",
            subject="Humanitarian corridor open 0800Z-1600Z",
            body="The humanitarian corridor through the crossing point is open daily 0800Z-1600Z. Both sides keep "
            "forces 2 km clear of the route during those hours.",
        ),
    ),
]


def seed_traffic(cell: Cell) -> int:
    """Send the demo scenes through the real commands (each with its ledger entry); returns how many."""
    for scene in SCENES:
        with cell.command() as uow:
            draft = MessageCreate(lang="en", **scene.draft)
            message = service.send(cell=cell, uow=uow, sender=scene.sender, draft=draft)
        if scene.ack_by is not None:
            with cell.command() as uow:
                service.acknowledge(
                    cell=cell, uow=uow, principal=scene.ack_by, message_id=message.id, readback=scene.readback
                )
        if scene.verdict is not None:
            with cell.command() as uow:
                service.judge_readback(
                    cell=cell,
                    uow=uow,
                    principal=scene.sender,
                    message_id=message.id,
                    verdict=scene.verdict,
                    note=scene.note,
                    delegation=None,
                )
    return len(SCENES)


# The drill's own accounts, one per delegation that talks: a newcomer signed in as sy.liaison sees the drill's
# messages as another officer's, never as messages they seem to have written themselves.
DRILL_ACCOUNTS: dict[str, Principal] = {
    "SY": _person("sy.drill", "SY", "liaison"),
    "IL": _person("il.drill", "IL", "liaison"),
    "US": _person("us.drill", "US", "mediator", "liaison"),
}


def ensure_drill_accounts(cell: Cell) -> None:
    """Open the drill's accounts if this demo has none yet (a directory made before they existed too). Their
    passwords are random and kept nowhere: no one signs in as the drill."""
    import contextlib
    import secrets

    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from fusioncell.auth import service as accounts
    from fusioncell.auth.models import User
    from fusioncell.errors import Conflict

    with cell.reading() as session:
        present = set(session.execute(select(User.username)).scalars())
    for person in DRILL_ACCOUNTS.values():
        if person.username in present:
            continue
        # another demo process starting at the same moment may open it first: then it is there, as wanted
        with contextlib.suppress(Conflict, IntegrityError), cell.command() as uow:
            accounts.add_user(
                cell=cell, uow=uow, actor=Principal.system("demo"), username=person.username,
                delegation=person.delegation or "", roles=[r.value for r in person.roles],
                password=secrets.token_urlsafe(24),
            )  # fmt: skip


class DemoDrill:
    """While the demo serves, the parties keep talking: a scene every `interval` seconds, acknowledged later.

    It goes through the same commands as real traffic, so the stream, the inbox and escalation all move. It talks
    from accounts of its own (DRILL_ACCOUNTS), one per delegation.
    """

    def __init__(self, cell: Cell, *, interval: float = 45.0) -> None:
        import threading

        self.cell = cell
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fusioncell-demo-drill", daemon=True)
        self._turn = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import logging

        log = logging.getLogger(__name__)
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:
                log.exception("demo drill step failed")

    def step(self) -> None:
        scene = SCENES[self._turn % len(SCENES)]
        self._turn += 1
        stamp = self.cell.clock.now().strftime("%H%MZ")
        draft = MessageCreate(lang="en", **{**scene.draft, "subject": f"{scene.draft['subject']} ({stamp})"})
        sender = DRILL_ACCOUNTS[scene.sender.delegation or ""]
        with self.cell.command() as uow:
            message = service.send(cell=self.cell, uow=uow, sender=sender, draft=draft)
        # every other message is acknowledged at once; the rest wait, so the inbox and escalation have work
        if scene.ack_by is not None and self._turn % 2 == 0:
            by = DRILL_ACCOUNTS[scene.ack_by.delegation or ""]
            with self.cell.command() as uow:
                service.acknowledge(
                    cell=self.cell, uow=uow, principal=by, message_id=message.id, readback=scene.readback
                )


# -- the parties' witnesses, run beside the demo so its checkpoints become final ------------------------------

DEMO_WITNESSES = (("SY", "sy.witness.demo", 8101), ("IL", "il.witness.demo", 8102))


def demo_charter_with_witnesses(example: str, data: Path, ports: tuple[int, ...] | None = None) -> str:
    """The example charter plus a `ledger.witnesses` section naming two demo witnesses, whose keys are made now
    under `data/witnesses/` (owner-only). The adopted charter then anchors their keys in entry 0."""
    from fusioncell.ledger.log import read_private_key, write_private_key
    from fusioncell.ledger.note import ALG_COSIGNATURE_V1, Signer

    lines = ["", "ledger:", "  witnesses:"]
    for n, (delegation, name, default_port) in enumerate(DEMO_WITNESSES):
        port = ports[n] if ports else default_port
        key = data / "witnesses" / f"{delegation.lower()}.key"
        if key.exists():  # a first `make run` stopped before the cell was set up: its witnesses stay who they were
            signer = read_private_key(key)
        else:
            signer = Signer.generate(name, alg=ALG_COSIGNATURE_V1)
            write_private_key(key, signer)
        url = f"http://127.0.0.1:{port}/api/v1/ledger/witness"
        lines.append(f'    - {{name: {name}, delegation: {delegation}, key: "{signer.verifier}", url: "{url}"}}')
    return example.rstrip("\n") + "\n" + "\n".join(lines) + "\n"


def start_demo_witnesses(cell: Cell) -> list[threading.Thread]:
    """Serve each demo witness (keys under `data/witnesses/`, state beside them) from a thread of this process:
    in a real deployment each party runs `fusioncell witness serve` on its own machine."""
    import uvicorn

    from fusioncell.ledger.log import log_signer, read_private_key
    from fusioncell.ledger.witness import WitnessState, make_witness_app

    logs = {cell.charter.mechanism.log_origin: log_signer(cell).verifier}
    threads = []
    for witness in cell.charter.ledger.witnesses:
        delegation = witness.delegation
        key = cell.settings.data / "witnesses" / f"{delegation.lower()}.key"
        if not key.exists():
            continue
        port = urlsplit(witness.url).port or 80
        app = make_witness_app(
            logs=logs, signer=read_private_key(key), state=WitnessState(key.with_name(f"{delegation.lower()}-state"))
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
        thread = threading.Thread(target=server.run, name=f"demo-witness-{delegation}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
