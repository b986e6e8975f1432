"""Both parties' witnesses in this process: the real witness app (C2SP tlog-witness), reached by the log's real
witness client through an httpx transport, so a test makes checkpoints final without starting processes."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.testclient import TestClient

from fusioncell.ledger import log
from fusioncell.ledger.log import Checkpointer, WitnessClient
from fusioncell.ledger.note import ALG_COSIGNATURE_V1, Signer
from fusioncell.ledger.witness import WitnessState, make_witness_app
from tests.ledger.test_witness_flow import with_witnesses

PARTIES = (("SY", "sy.witness.test"), ("IL", "il.witness.test"))


class InProcessWitnesses(httpx.BaseTransport):
    """Routes each request to the witness app named by its host; a host in `down` cannot be reached."""

    def __init__(self) -> None:
        self.apps: dict[str, TestClient] = {}
        self.down: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError(f"{host} is down", request=request)
        answer = self.apps[host].send(request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def witness_both_parties(cell, tmp_path: Path) -> tuple[Checkpointer, InProcessWitnesses]:  # type: ignore[no-untyped-def]
    """The charter (in memory) lists SY's and IL's witnesses; the returned checkpointer's tick() signs a checkpoint
    and has them cosign it."""
    origin = cell.charter.mechanism.log_origin
    log_key = log.log_signer(cell).verifier
    transport = InProcessWitnesses()
    listed = []
    for delegation, host in PARTIES:
        signer = Signer.generate(host, alg=ALG_COSIGNATURE_V1)
        transport.apps[host] = TestClient(
            make_witness_app(
                logs={origin: log_key},
                signer=signer,
                state=WitnessState(tmp_path / host),
                clock=lambda: int(cell.clock.now().timestamp()),
            )
        )
        listed.append((delegation, f"http://{host}/api/v1/ledger/witness", signer))
    with_witnesses(cell, *listed)
    return Checkpointer(cell, WitnessClient(cell, http=httpx.Client(transport=transport))), transport
