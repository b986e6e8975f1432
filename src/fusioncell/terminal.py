"""Terminal use for a liaison on duty: login, send, inbox, ack, verdict, watch."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from fusioncell.client import AnswerLost, Api, ClientError, Credentials, Unreachable, server_address
from fusioncell.cliutil import console, err, shown
from fusioncell.ledger.entries import HEADER_PREFIX
from fusioncell.policy import PERMISSION_ROLES, Permission

PRECEDENCE_RANK = {"FLASH": 0, "IMMEDIATE": 1, "PRIORITY": 2, "ROUTINE": 3}
PRECEDENCE_STYLE = {"FLASH": "bold white on red", "IMMEDIATE": "bold red", "PRIORITY": "yellow", "ROUTINE": "white"}


def _fail(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", shown(message)), highlight=False)
    raise typer.Exit(1)


def _api() -> tuple[Api, Credentials]:
    try:
        creds = Credentials.load()
    except ClientError as exc:
        _fail(str(exc))
    return Api(creds.server, creds.access_token), creds


ACKNOWLEDGING = {role.value for role in PERMISSION_ROLES[Permission.ACKNOWLEDGE]}  # whose the inbox is
_ROLE_WORK = {
    "analyst": "submit intelligence for the mediator's review: on the web at {server}/intel, or over TAXII at "
    "{server}/taxii2/",
    "admin": "manage your delegation's accounts (on the server: `fusioncell users --help`)",
    "observer": "read the joint traffic as it happens: `fusioncell watch`",
    "signatory": "sign agreements for your delegation",
}


def _what_you_do(roles: set[str], creds: Credentials) -> str:
    work = "; and ".join(_ROLE_WORK[r].format(server=creds.server) for r in sorted(roles) if r in _ROLE_WORK)
    return (
        f"The inbox holds what awaits {creds.delegation}'s acknowledgement, which liaison officers give. As "
        f"{creds.username} ({', '.join(sorted(roles)) or 'no role'}) you "
        + (work or "have no role yet: ask your delegation's admin for one")
        + "."
    )


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def time_left(ack_due_at: str, now: datetime | None = None) -> tuple[str, bool]:
    """'4m 10s' left, or '12m overdue' (True when overdue)."""
    delta = _parse_time(ack_due_at) - (now or datetime.now(UTC))
    seconds = int(delta.total_seconds())
    overdue = seconds < 0
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
    return (f"{text} overdue", True) if overdue else (f"{text} left", False)


def register(app: typer.Typer) -> None:
    @app.command()
    def login(
        username: Annotated[str, typer.Argument(help="Your account name.")],
        server: Annotated[str, typer.Option("--server", help="The cell's address.")] = "http://127.0.0.1:8000",
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
        otp: Annotated[str | None, typer.Option("--otp", help="Your current one-time code, if you have one.")] = None,
    ) -> None:
        """Log in and keep the token in a file only you can read."""
        import getpass

        try:
            server = server_address(server)  # before the password is asked for: a wrong address is said at once
        except ClientError as exc:
            _fail(str(exc))
        password = sys.stdin.readline().rstrip("\r\n") if password_stdin else getpass.getpass("Password: ")
        body: dict[str, Any] = {"username": username, "password": password}
        if otp:
            body["otp"] = otp
        try:
            api = Api(server)
            token = api.request("POST", "/api/v1/auth/token", json=body).json()
            me = Api(server, token["access_token"]).request("GET", "/api/v1/me").json()
        except ClientError as exc:
            _fail(str(exc))
        path = Credentials(server, me["username"], me["delegation"], token["access_token"], token["expires_at"]).save()
        console.print(
            Text.assemble(
                ("Logged in", "green"),
                " as ",
                shown(f"{me['username']} ({me['delegation']}: {', '.join(me['roles'])}) until {token['expires_at']}"),
                f"; token kept in {path}",
            )
        )

    @app.command()
    def send(
        subject: Annotated[str, typer.Option("--subject", "-s", help="One line.")],
        body: Annotated[str | None, typer.Option("--body", "-b", help="The text; '-' or omitted reads stdin.")] = None,
        track: Annotated[str, typer.Option("--track", "-t")] = "de-escalation",
        audience: Annotated[str, typer.Option("--audience", "-a", help="joint | mediator | mediated:XX")] = "joint",
        precedence: Annotated[
            str, typer.Option("--precedence", "-p", help="FLASH|IMMEDIATE|PRIORITY|ROUTINE")
        ] = "ROUTINE",
        marker: Annotated[str, typer.Option("--marker", "-m")] = "INFORMATION",
        lang: Annotated[str, typer.Option("--lang")] = "en",
        readback: Annotated[bool, typer.Option("--readback-required", help="Ask receivers to read it back.")] = False,
        reply_to: Annotated[int | None, typer.Option("--reply-to")] = None,
        txn: Annotated[str | None, typer.Option("--txn", help="Idempotency key (default: a new one).")] = None,
    ) -> None:
        """Send a message. A network failure is retried once with the same transaction id: never a duplicate."""
        api, _ = _api()
        text = sys.stdin.read() if body in (None, "-") else body
        draft = {
            "track": track,
            "audience": audience,
            "precedence": precedence.upper(),
            "marker": marker.upper(),
            "subject": subject,
            "body": text.strip(),
            "lang": lang,
            "readback_required": readback,
            "reply_to": reply_to,
            "client_txn_id": txn or f"cli-{uuid.uuid4()}",
        }
        retried = False
        try:
            try:
                response = api.request("POST", "/api/v1/messages", json=draft)
            except (Unreachable, AnswerLost):
                # the same client_txn_id: if the first attempt was carried out, this returns it, never a duplicate
                retried = True
                response = api.request("POST", "/api/v1/messages", json=draft)
        except ClientError as exc:
            _fail(str(exc))
        message = response.json()
        left, _ = time_left(message["ack_due_at"])
        due = f"acknowledgement due {message['ack_due_at']} ({left})"
        if response.headers.get("Idempotent-Replayed") == "true" and not retried:
            # this transaction id was used before (a resend): that message, not a new one
            console.print(
                Text.assemble(
                    ("Already sent", "yellow"),
                    shown(
                        f" as #{message['id']} ({message['precedence']}, {message['audience']}) at "
                        f"{message['sent_at']} with transaction id {draft['client_txn_id']}: nothing new was sent; "
                        + due
                    ),
                )
            )
            return
        if retried:  # the first try's answer was lost; the retry found (or made) the one message
            console.print(shown("The first try's answer was lost; the retry with the same transaction id found it."))
        console.print(
            Text.assemble(
                ("Sent", "green"),
                shown(
                    f" #{message['id']} ({message['precedence']}, {message['audience']}), ledger entry "
                    f"{message['ledger_index']}; acknowledgement due {message['ack_due_at']} ({left})"
                ),
            )
        )

    @app.command()
    def inbox(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """What awaits your delegation's acknowledgement, by precedence, with the time left."""
        api, creds = _api()
        try:
            roles = set(api.request("GET", "/api/v1/me").json()["roles"])
            messages = api.request("GET", "/api/v1/inbox").json() if roles & ACKNOWLEDGING else []
        except ClientError as exc:
            _fail(str(exc))
        if not roles & ACKNOWLEDGING:  # the inbox is theirs who acknowledge: say what this account does instead
            (err if as_json else console).print(shown(_what_you_do(roles, creds)))
            if as_json:
                typer.echo("[]")
            return
        messages.sort(key=lambda m: (PRECEDENCE_RANK[m["precedence"]], m["ack_due_at"], m["ledger_index"]))
        if as_json:
            typer.echo(json.dumps(messages))
            return
        if not messages:
            console.print(shown(f"Nothing awaits {creds.delegation}'s acknowledgement."))
            return
        table = Table(title=shown(f"Inbox of {creds.delegation} ({len(messages)})"))
        for column in ("#", "precedence", "from", "track", "subject", "to acknowledge"):
            table.add_column(column)
        for m in messages:
            mine = next((d for d in m["deliveries"] if d["delegation"] == creds.delegation), None)
            left, overdue = time_left(m["ack_due_at"])
            if mine and mine["state"] == "negative":
                why = f": {mine['verdict_note']}" if mine.get("verdict_note") else ""
                left, overdue = f"read back again (rejected{why})", True
            table.add_row(
                shown(m["id"]),
                shown(m["precedence"], PRECEDENCE_STYLE.get(m["precedence"], "white")),
                shown(m["sender_delegation"]),
                shown(m["track"]),
                Text.assemble(shown(m["subject"]), (" (read-back)", "cyan") if m["readback_required"] else ""),
                shown(left, "bold red" if overdue else ""),
            )
        console.print(table)

    @app.command()
    def ack(
        message_id: Annotated[int, typer.Argument(help="The message number from `inbox`.")],
        readback: Annotated[str | None, typer.Option("--readback", "-r", help="Restate the message.")] = None,
    ) -> None:
        """Acknowledge a message for your delegation, with a read-back if asked."""
        api, creds = _api()
        body = {"readback": readback} if readback else {}
        try:
            message = api.request("POST", f"/api/v1/messages/{message_id}/ack", json=body).json()
        except ClientError as exc:
            _fail(str(exc))
        mine = next(d for d in message["deliveries"] if d["delegation"] == creds.delegation)
        console.print(
            Text.assemble(
                ("Acknowledged", "green"),
                shown(f" #{message_id} for {creds.delegation}: {mine['state'].replace('_', ' ')}"),
            )
        )

    @app.command()
    def verdict(
        message_id: int,
        judgement: Annotated[str, typer.Argument(help="confirmed or negative")],
        note: Annotated[
            str | None, typer.Option("--note", help="What the read-back got wrong (needed for negative).")
        ] = None,
        delegation: Annotated[str | None, typer.Option("--delegation", help="Whose read-back, if several.")] = None,
    ) -> None:
        """Confirm or reject a read-back of your message (negative alerts the mediator)."""
        if judgement == "negative" and not (note or "").strip():
            _fail('a negative verdict needs --note saying what the read-back got wrong, e.g. --note "0600Z, not 0700Z"')
        api, _ = _api()
        body: dict[str, Any] = {"verdict": judgement}
        if note:
            body["note"] = note
        if delegation:
            body["delegation"] = delegation
        try:
            api.request("POST", f"/api/v1/messages/{message_id}/readback-verdict", json=body)
        except ClientError as exc:
            _fail(str(exc))
        console.print(Text.assemble(("Verdict recorded", "green"), shown(f" on #{message_id}: {judgement}")))

    @app.command()
    def watch(
        after: Annotated[int | None, typer.Option("--after", help="Replay events after this ledger index.")] = None,
        state: Annotated[Path | None, typer.Option("--state", help="Keep the last index here; resume from it.")] = None,
    ) -> None:
        """Follow the live stream; reconnects by itself and misses nothing."""
        import time

        from websockets.exceptions import ConnectionClosed, InvalidStatus
        from websockets.sync.client import connect

        _, creds = _api()
        cursor = after
        if cursor is None and state is not None and state.exists():
            cursor = int(state.read_text().strip() or "-1")
        ws_base = creds.server.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        while True:
            url = ws_base + "/api/v1/stream" + (f"?after={cursor}" if cursor is not None else "")
            try:
                with connect(url, additional_headers={"Authorization": f"Bearer {creds.access_token}"}) as ws:
                    for raw in ws:
                        frame = json.loads(raw)
                        if frame["type"] == "error":
                            _fail(
                                f"{frame['detail']}: run `fusioncell login` again"
                                if frame["status"] == 401
                                else frame["detail"]
                            )
                        if frame["type"] == "live":
                            console.print(shown(f"live from ledger index {frame['index']}", "dim"))
                        if frame["type"] in ("live", "heartbeat"):
                            cursor = frame["index"]
                        if frame["type"] == "event":
                            cursor = frame["index"]
                            console.print(render_event(frame), highlight=False)
                        if state is not None and cursor is not None:
                            state.write_text(str(cursor))
            except (OSError, ConnectionClosed, InvalidStatus) as exc:
                err.print(f"[yellow]stream interrupted ({exc.__class__.__name__}); reconnecting after {cursor}[/]")
                time.sleep(2)
            except KeyboardInterrupt:
                raise typer.Exit(0) from None


def render_event(frame: dict[str, Any]) -> Text:
    """One line of `watch`. Everything in it came from the server and is shown, never read as markup or acted on as
    a control (cliutil.shown): a party cannot make the other's screen show a line the ledger does not hold."""
    content = frame["content"]
    when = shown(frame["time"][11:19])
    action = frame["action"]
    if action == "message.sent":
        m = content["message"]
        return Text.assemble(
            when,
            " ",
            shown(m["precedence"], PRECEDENCE_STYLE.get(m["precedence"], "white")),
            shown(f" #{m['id']} {m['sender_delegation']} → {frame['audience']} [{m['track']}] {m['marker']}: "),
            shown(m["subject"]),
        )
    if action == "message.delivered":
        ids = ", ".join(f"#{d['message_id']}" for d in content["deliveries"])
        return Text.assemble(when, shown(f" delivered to {content['delegation']}: {ids}"))
    if action.startswith("message."):
        detail = ", ".join(
            f"{k}={v}"
            for k, v in content.items()
            if k not in ("actor", "message_id") and not k.startswith(HEADER_PREFIX) and v not in (None, "")
        )
        return Text.assemble(when, shown(f" {action.removeprefix('message.')} #{content.get('message_id')} {detail}"))
    return Text.assemble(when, shown(f" {action} {frame['subject']}"))
