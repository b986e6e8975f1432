"""Crash durability: SIGKILL the server under the send load, restart, resend, and count what was lost.

Each round: start `fusioncell serve` on the same data directory (and database), let 8 senders send for a random
0.2-1.0 s, SIGKILL the server mid-flight. A send is *acknowledged* when its 201 (or 200) arrived. After the last
kill the database is read directly: every acknowledged message must be there, with the id the 201 named
(lost = not there, or another id). Then a cold `fusioncell serve` gets every attempted send again with the same
client_txn_id: an acknowledged one must come back 200 with its original id, an unacknowledged one may come back
200 (it had committed) or 201 (it had not); afterwards every attempted client_txn_id must name exactly one
message (duplicates = any that name more), and the ledger must still be gapless with a `message.sent` entry
for each message.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from bench.traffic.common import Account, draft
from bench.traffic.fusion import Deployment, Sender, Server, ServerFailed, Zygote

TAG = "kill"


async def kill_loop(
    deployment: Deployment,
    senders: list[Account],
    tokens: dict[str, str],
    *,
    kills: int,
    zygote: Zygote | None,
    seed: int = 2026,
) -> dict[str, Any]:
    rng = random.Random(seed)
    attempted: dict[tuple[str, str], tuple[Account, int]] = {}  # (sender, txn) -> what to resend
    acked: dict[tuple[str, str], int] = {}  # (sender, txn) -> message id the 201/200 named
    statuses: dict[str, int] = {}
    next_seq = {a.username: 0 for a in senders}
    signals: dict[str, int] = {}
    restart_times: list[float] = []
    run_times: list[float] = []
    server = Server(deployment, deployment.workdir / f"kill-{deployment.backend}.log")
    started = time.perf_counter()
    try:
        for _ in range(kills):
            if zygote:
                server.start_warm(zygote)
            else:
                server.start_cold()
            restart_times.append(await server.wait_ready())
            clients = [Sender(a, tokens[a.username], server.url) for a in senders]
            stop = asyncio.Event()

            async def loop(sender: Sender, stop: asyncio.Event = stop) -> None:
                name = sender.account.username
                while not stop.is_set():
                    seq = next_seq[name]
                    next_seq[name] += 1
                    record = await sender.send(seq, TAG)
                    attempted[(name, record.txn)] = (sender.account, seq)
                    statuses[str(record.status)] = statuses.get(str(record.status), 0) + 1
                    if record.status in (200, 201):
                        acked[(name, record.txn)] = int(record.message_id)  # type: ignore[arg-type]
                    elif not isinstance(record.status, int):
                        return  # the connection died with the server

            tasks = [asyncio.create_task(loop(c)) for c in clients]
            run = rng.uniform(0.2, 1.0)
            await asyncio.sleep(run)
            run_times.append(run)
            sig = server.kill()
            stop.set()
            await asyncio.gather(*tasks)
            for c in clients:
                await c.close()
            signals[str(sig)] = signals.get(str(sig), 0) + 1
    finally:
        if server.pid is not None:
            server.kill()
    loop_s = time.perf_counter() - started

    # 1. straight from the database, before anything is resent: is every acknowledged message there?
    before = _messages(deployment)
    lost_before = sum(1 for key, mid in acked.items() if mid not in before.get(key, []))

    # 2. resend every attempted send to a cold server
    server.start_cold()
    await server.wait_ready()
    resend = await _resend(server.url, tokens, attempted)
    server.stop()
    lost_on_resend = sum(1 for key, mid in acked.items() if resend["ids"].get(key) != mid)

    # 3. the database again: exactly one message per attempted client_txn_id, ledger whole
    after = _messages(deployment)
    duplicates = sum(len(ids) - 1 for ids in after.values() if len(ids) > 1)
    missing_after = sum(1 for key in attempted if not after.get(key))
    phantoms = sum(1 for key in after if key not in attempted)
    ledger = _ledger_check(deployment, after)

    return {
        "kills": kills,
        "restarts": "warm (forked from bench/traffic/zygote.py)" if zygote else "cold",
        "killed_by_signal": signals,
        "attempted": len(attempted),
        "acked": len(acked),
        "unacknowledged": len(attempted) - len(acked),
        "send_statuses": statuses,
        "lost": lost_before + lost_on_resend,
        "lost_in_database": lost_before,
        "lost_on_resend": lost_on_resend,
        "committed_unacknowledged": sum(1 for key in attempted if key not in acked and before.get(key)),
        "resend_statuses": resend["statuses"],
        "duplicates": duplicates,
        "missing_after_resend": missing_after,
        "phantoms": phantoms,
        **ledger,
        "restart_to_healthy_s_mean": round(sum(restart_times) / max(len(restart_times), 1), 3),
        "send_window_s_mean": round(sum(run_times) / max(len(run_times), 1), 3),
        "loop_s": round(loop_s, 1),
    }


async def _resend(
    url: str, tokens: dict[str, str], attempted: dict[tuple[str, str], tuple[Account, int]]
) -> dict[str, Any]:
    ids: dict[tuple[str, str], int] = {}
    statuses: dict[str, int] = {}
    by_sender: dict[str, list[tuple[Account, int]]] = {}
    for account, seq in attempted.values():
        by_sender.setdefault(account.username, []).append((account, seq))

    async def one_sender(work: list[tuple[Account, int]]) -> None:
        account = work[0][0]
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {tokens[account.username]}"}, timeout=120
        ) as client:
            for _, seq in sorted(work, key=lambda w: w[1]):
                body = draft(account, seq, TAG)
                r = await client.post("/api/v1/messages", json=body)
                statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
                if r.status_code in (200, 201):
                    ids[(account.username, body["client_txn_id"])] = r.json()["id"]

    await asyncio.gather(*(one_sender(w) for w in by_sender.values()))
    return {"ids": ids, "statuses": statuses}


def _messages(deployment: Deployment) -> dict[tuple[str, str], list[int]]:
    """(sender, client_txn_id) -> message ids, read straight from the database."""
    out: dict[tuple[str, str], list[int]] = {}
    with deployment.sql() as conn:
        rows = conn.execute(
            "SELECT sender, client_txn_id, id FROM messages WHERE client_txn_id LIKE 'kill.%' ORDER BY id"
        ).fetchall()
    for sender, txn, mid in rows:
        out.setdefault((sender, txn), []).append(int(mid))
    return out


def _ledger_check(deployment: Deployment, messages: dict[tuple[str, str], list[int]]) -> dict[str, Any]:
    with deployment.sql() as conn:
        count, top = conn.execute('SELECT count(*), max("index") FROM ledger_entries').fetchone()
        (size,) = conn.execute("SELECT size FROM ledger_head").fetchone()
        sent = dict(
            conn.execute(
                "SELECT m.id, e.action || ' ' || e.subject FROM messages m "
                'JOIN ledger_entries e ON e."index" = m.ledger_index '
                "WHERE m.client_txn_id LIKE 'kill.%'"
            ).fetchall()
        )
    mismatched = sum(1 for ids in messages.values() for mid in ids if sent.get(mid) != f"message.sent message:{mid}")
    return {
        "ledger_gapless": count == top + 1 == size,
        "ledger_size": size,
        "messages_without_their_entry": mismatched,
    }


__all__ = ["kill_loop", "ServerFailed"]
