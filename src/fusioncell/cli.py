"""The command line: demo, init, migrate, serve, users. Errors say what to do next."""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from fusioncell import terminal
from fusioncell.cliutil import console, err, friendly, plain, shown
from fusioncell.deescalation import commands as deescalation_commands
from fusioncell.ledger import commands as ledger_commands
from fusioncell.policy import Principal
from fusioncell.settings import Settings, load_settings
from fusioncell.signing import commands as signing_commands

app = typer.Typer(no_args_is_help=True, add_completion=False, help="fusioncell: the mediated joint coordination cell.")
users_app = typer.Typer(no_args_is_help=True, help="Manage accounts (run on the server host).")
app.add_typer(users_app, name="users")
ledger_commands.register(app)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Data directory (default: $FUSIONCELL_DATA or ./var/demo).", show_default=False),
]

DEMO_ACCOUNTS: list[tuple[str, str, list[str]]] = [
    ("us.mediator", "US", ["mediator", "liaison"]),
    ("us.admin", "US", ["admin"]),
    ("sy.liaison", "SY", ["liaison"]),
    ("sy.analyst", "SY", ["analyst"]),
    ("sy.signatory", "SY", ["signatory"]),
    ("il.liaison", "IL", ["liaison"]),
    ("il.analyst", "IL", ["analyst"]),
    ("il.signatory", "IL", ["signatory"]),
    ("undof.observer", "UNDOF", ["observer"]),
]


def _cli_actor() -> Principal:
    return Principal.system(f"cli:{getpass.getuser()}@{socket.gethostname()}")


def _settings(data: Path | None) -> Settings:
    try:
        return load_settings(data=data)
    except ValidationError as exc:  # one line per bad environment value, named as it is set
        for error in exc.errors():
            name = "FUSIONCELL_" + "_".join(str(part) for part in error["loc"]).upper()
            reason = plain(str(error["msg"]).removeprefix("Value error, "))
            err.print(f"[bold red]bad setting {name}:[/] {reason}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as exc:
        err.print(f"[bold red]bad setting:[/] {plain(str(exc))}")
        raise typer.Exit(2) from None


def _open(data: Path | None):  # type: ignore[no-untyped-def]
    from fusioncell.app import open_cell
    from fusioncell.migrate import current_revision, head_revision
    from fusioncell.setup import ensure_charter_readable

    settings = _settings(data)
    ensure_charter_readable(settings)
    cell = open_cell(settings)
    if current_revision(cell.db) != head_revision():
        err.print(f"[bold red]The database schema is not current.[/] Run: fusioncell migrate --data {settings.data}")
        raise typer.Exit(1)
    return cell


def _read_password(from_stdin: bool, *, confirm: bool = True) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            err.print("[bold red]error:[/] no password on standard input")
            raise typer.Exit(2)
        return password
    if not sys.stdin.isatty():
        err.print("[bold red]error:[/] no terminal to ask for a password: pipe it with --password-stdin")
        raise typer.Exit(2)
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != password:
        err.print("[bold red]error:[/] the passwords differ")
        raise typer.Exit(2)
    return password


# -- set-up --------------------------------------------------------------------------------------------


@app.command()
@friendly
def init(
    charter: Annotated[Path, typer.Option("--charter", help="The charter YAML file to adopt.")],
    data: DataOpt = None,
) -> None:
    """Create a data directory: validate and adopt the charter, create the database schema and the log key."""
    from fusioncell.ledger.log import log_signer
    from fusioncell.setup import init_cell

    settings = _settings(data)
    cell = init_cell(settings, charter, actor=_cli_actor())
    c = cell.charter
    console.print(
        Text.assemble(
            ("Initialised", "green"),
            f" {settings.data} for ",
            shown(c.mechanism.name.get("en"), "bold"),
            f" ({len(c.delegations)} delegations, {len(c.tracks)} tracks, {len(c.glossary)} glossary terms) "
            f"on {cell.db.url.get_backend_name()}.",
        )
    )
    console.print(f"Log key (give it to every witness): [bold]{log_signer(cell).verifier}[/]", highlight=False)
    console.print(
        f"Next: fusioncell users add NAME --delegation CODE --role ROLE --password-stdin --data {settings.data}"
    )


@app.command()
@friendly
def migrate(data: DataOpt = None) -> None:
    """Bring the database schema up to date (run after upgrading fusioncell)."""
    from fusioncell.app import open_cell
    from fusioncell.migrate import upgrade
    from fusioncell.setup import ensure_charter_readable

    settings = _settings(data)
    ensure_charter_readable(settings)
    cell = open_cell(settings)
    upgrade(cell.db)
    console.print("[green]The database schema is current.[/]")


@app.command()
@friendly
def serve(
    data: DataOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Server processes (PostgreSQL only; default 1).")
    ] = None,
) -> None:
    """Serve the API (and, later, the web screen)."""
    _serve(_open(data), host, port, workers)


def _serve(cell, host: str | None, port: int | None, workers: int | None = None) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    from fusioncell.app import create_app
    from fusioncell.intel.stix import warm_pool
    from fusioncell.ledger.log import log_signer
    from fusioncell.ops import configure_logging, settle_heap

    configure_logging(cell.settings.log_level)
    log_signer(cell)  # a missing or wrong signing key stops the start, with what to do
    host = host or cell.settings.host
    port = port or cell.settings.port
    workers = workers or cell.settings.workers
    if workers > 1 and not cell.db.is_postgres:
        err.print(
            "[bold red]Several workers need PostgreSQL[/] (set FUSIONCELL_DATABASE_URL): with SQLite the cell "
            "serves from one process. Drop --workers / FUSIONCELL_WORKERS, or move the cell to PostgreSQL."
        )
        raise typer.Exit(2)
    console.print(
        Text.assemble(
            "Serving ",
            shown(cell.charter.mechanism.name.get("en"), "bold"),
            f" at http://{host}:{port} (sign in there for the web pages) — API docs at "
            f"http://{host}:{port}/api/v1/docs, health at /healthz" + (f" ({workers} workers)" if workers > 1 else ""),
        )
    )
    # no per-message compression on the stream: frames are small JSON, and each subscriber would compress
    # the same frame again with its own context. No proxy headers: uvicorn would believe X-Forwarded-For from
    # any local process; the app believes it from FUSIONCELL_TRUSTED_PROXIES alone (fusioncell.proxies).
    options = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "ws_per_message_deflate": False,
        "proxy_headers": False,
    }
    if workers == 1:
        app = create_app(cell)
        warm_pool(cell.settings.resolved_stix_workers())
        settle_heap()
        uvicorn.run(app, **options)
        return
    # each worker process opens the cell itself, from the same settings
    os.environ["FUSIONCELL_DATA"] = str(cell.settings.data.resolve())
    uvicorn.run("fusioncell.app:app_from_environment", factory=True, workers=workers, **options)


@app.command()
@friendly
def demo(
    data: DataOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after setting up.")] = True,
    drill: Annotated[bool, typer.Option("--drill/--no-drill", help="Keep demo traffic flowing while serving.")] = True,
) -> None:
    """Set up ./var/demo with the example charter and demo accounts if absent, print them, and serve."""
    from fusioncell.app import open_cell
    from fusioncell.migrate import upgrade
    from fusioncell.setup import init_cell, is_initialised

    settings = _settings(data)
    accounts_file = settings.data / "demo-accounts.json"
    if not is_initialised(settings):
        from fusioncell.demo import demo_charter_with_witnesses

        example = (resources.files("fusioncell.charter") / "examples" / "paris-2026.yaml").read_text()
        settings.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        charter = settings.data / "demo-charter.yaml"
        charter.write_text(demo_charter_with_witnesses(example, settings.data))
        cell = init_cell(settings, charter, actor=_cli_actor())
        _create_demo_accounts(cell, accounts_file)
        from fusioncell.demo import seed_traffic

        count = seed_traffic(cell)
        console.print(f"Seeded {count} demo messages across the tracks (one read-back rejected, one awaiting you).")
        from fusioncell.deescalation.demo import seed_ground_picture

        notified = seed_ground_picture(cell)
        console.print(f"Notified {notified} demo activities on the map (one in conflict) and an observer's incident.")
        from fusioncell.disputes.demo import seed_cases

        cases = len(seed_cases(cell))
        console.print(f"Opened {cases} demo disputes (one under review, one resolved, one awaiting acknowledgement).")
        from fusioncell.agreements.demo import seed_timeline

        seed_timeline(cell, settings.data / "keys")
        console.print(
            "Signed the illustrative phased-withdrawal timeline (both signatories' keys under keys/): one phase "
            "verified, one overdue with its case opened, one due this week."
        )
    else:
        cell = open_cell(settings)
        upgrade(cell.db)
    _print_demo_accounts(cell, accounts_file)
    if serve:
        from fusioncell.demo import DemoDrill, ensure_drill_accounts, start_demo_witnesses

        if start_demo_witnesses(cell):
            console.print(
                "The parties' witnesses (SY, IL) run beside the demo on ports 8101 and 8102: checkpoints become "
                "final when both cosign (GET /api/v1/ledger/checkpoints)."
            )
        if drill:
            ensure_drill_accounts(cell)
            DemoDrill(cell).start()
            console.print(
                "Demo drill on: the parties' drill accounts (sy.drill, il.drill, us.drill) send a message every 45 s "
                "(see it arrive on the watch page, or with `fusioncell watch`)."
            )
        _serve(cell, host, port)


def _create_demo_accounts(cell, accounts_file: Path) -> None:  # type: ignore[no-untyped-def]
    from rich.progress import track

    from fusioncell.auth import service

    accounts = []
    for username, delegation, roles in track(DEMO_ACCOUNTS, description="Creating demo accounts", console=console):
        password = "-".join(secrets.token_urlsafe(4) for _ in range(3))
        with cell.command() as uow:
            user = service.add_user(
                cell=cell,
                uow=uow,
                actor=_cli_actor(),
                username=username,
                delegation=delegation,
                roles=roles,
                password=password,
            )
        # the hash as made, to tell later whether the password was reset since (without hashing it again)
        accounts.append({"username": username, "delegation": delegation, "roles": roles, "password": password,
                         "password_hash": user.password_hash})  # fmt: skip
    from fusioncell.files import write_owner_only

    write_owner_only(accounts_file, json.dumps(accounts, indent=2))


def _print_demo_accounts(cell, accounts_file: Path) -> None:  # type: ignore[no-untyped-def]
    if not accounts_file.exists():
        console.print(f"(no demo accounts file at {accounts_file}: this data directory was not made by `demo`)")
        return
    table = Table(title="Demo accounts (log in at POST /api/v1/auth/token or the docs page)")
    for column in ("username", "delegation", "roles", "password"):
        table.add_column(column)
    from sqlalchemy import select

    from fusioncell.auth.models import User
    from fusioncell.auth.passwords import verify_password

    with cell.reading() as session:
        hashes = dict(session.execute(select(User.username, User.password_hash)).all())
    for account in json.loads(accounts_file.read_text()):
        # a password reset since the demo was made: the one written down then no longer opens the account
        password, now = account["password"], hashes.get(account["username"])
        made = account.get("password_hash")  # files written before it was kept: hash the password again
        if now is None:
            password = "(no such account now)"
        elif (now != made) if made else not verify_password(now, password):
            password = "(changed since: use yours)"
        values = (account["username"], account["delegation"], ", ".join(account["roles"]), password)
        table.add_row(*map(shown, values))
    console.print(table)


# -- accounts ------------------------------------------------------------------------------------------


@users_app.command("add")
@friendly
def users_add(
    name: Annotated[str, typer.Argument(help="Username: lower-case letters, digits, '.', '_' or '-'.")],
    delegation: Annotated[str, typer.Option("--delegation", help="Delegation code from the charter, e.g. SY.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role", help="Role (repeat for several): liaison, analyst, signatory, mediator, observer, admin."
        ),
    ],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    data: DataOpt = None,
) -> None:
    """Create an account."""
    from fusioncell.auth import service

    cell = _open(data)
    password = _read_password(password_stdin)
    with cell.command() as uow:
        user = service.add_user(
            cell=cell, uow=uow, actor=_cli_actor(), username=name, delegation=delegation, roles=role, password=password
        )
    console.print(f"[green]Created[/] {user.username} ({user.delegation}: {', '.join(user.roles)}).")


@users_app.command("list")
@friendly
def users_list(
    data: DataOpt = None,
    delegation: Annotated[str | None, typer.Option(help="Only this delegation's accounts.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List accounts."""
    from fusioncell.auth import service

    cell = _open(data)
    users = service.list_users(cell=cell, delegation=delegation)
    rows = [
        {
            "username": u.username,
            "delegation": u.delegation,
            "roles": u.roles,
            "totp": u.totp_secret is not None,
            "disabled": u.disabled,
        }
        for u in users
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table()
    for column in ("username", "delegation", "roles", "2FA", "status"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            shown(r["username"]),
            shown(r["delegation"]),
            shown(", ".join(r["roles"])),
            "TOTP" if r["totp"] else "-",
            "[red]disabled[/]" if r["disabled"] else "active",
        )
    console.print(table)


@users_app.command("disable")
@friendly
def users_disable(name: str, data: DataOpt = None) -> None:
    """Disable an account; its tokens stop working at once."""
    from fusioncell.auth import service

    cell = _open(data)
    with cell.command() as uow:
        service.disable_user(cell=cell, uow=uow, actor=_cli_actor(), username=name)
    console.print(f"[yellow]Disabled[/] {name}; its tokens are revoked.")


@users_app.command("reset-password")
@friendly
def users_reset_password(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    data: DataOpt = None,
) -> None:
    """Set a new password; the account's tokens are revoked."""
    from fusioncell.auth import service

    cell = _open(data)
    password = _read_password(password_stdin)
    with cell.command() as uow:
        service.reset_password(cell=cell, uow=uow, actor=_cli_actor(), username=name, password=password)
    console.print(f"[green]Password reset[/] for {name}; its tokens are revoked.")


@users_app.command("totp")
@friendly
def users_totp(name: str, data: DataOpt = None) -> None:
    """Enrol a TOTP second factor and print its provisioning URI (login then needs the code)."""
    from fusioncell.auth import service

    cell = _open(data)
    with cell.command() as uow:
        uri = service.enroll_totp(cell=cell, uow=uow, actor=_cli_actor(), username=name)
    err.print(f"TOTP enrolled for {name}. Load this URI into the authenticator app (it is shown once):")
    typer.echo(uri)


terminal.register(app)
deescalation_commands.register(app)
signing_commands.register(ledger_commands.keys_app, app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
