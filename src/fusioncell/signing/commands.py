"""`fusioncell keys register` and `fusioncell sign`: a signatory's key and signatures, made on the signatory's own
machine. The private key is read here and never sent; `sign` fetches the version, checks its digest against the
document itself, shows it, and signs only what it showed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from fusioncell.cliutil import console, err, plain, shown


def _signer(path: Path) -> Any:
    from fusioncell.errors import LogKeyError
    from fusioncell.ledger.log import read_private_key
    from fusioncell.ledger.note import ALG_ED25519
    from fusioncell.terminal import _fail

    try:
        signer = read_private_key(path)
    except LogKeyError as exc:
        _fail(str(exc))
    if signer.alg != ALG_ED25519:
        _fail(f"{path} is a witness's key: make a signatory's with `fusioncell keys new --signatory --out FILE`")
    return signer


def register(keys_app: typer.Typer, app: typer.Typer) -> None:
    @keys_app.command("register")
    def keys_register(
        key: Annotated[Path, typer.Option("--key", help="Your private key (fusioncell keys new --signatory).")],
    ) -> None:
        """Send the public half of your key to the cell you logged in to; it signs once the mediator approves it."""
        from fusioncell.client import ClientError
        from fusioncell.terminal import _api, _fail

        signer = _signer(key)
        api, creds = _api()
        if signer.name != creds.username:
            _fail(f"the key is named {signer.name!r} but you are logged in as {creds.username!r}: register your own")
        try:
            r = api.request("POST", "/api/v1/keys", json={"verifier": str(signer.verifier)})
        except ClientError as exc:
            _fail(str(exc))
        found = r.json()
        console.print(
            f"[green]Registered[/] {plain(found['key_id'])} for {plain(found['delegation'])}: it awaits the mediator's "
            "approval (tell them its key ID by a second channel).",
            highlight=False,
        )

    @app.command("sign")
    def sign(
        agreement: Annotated[int, typer.Option("--agreement", help="The agreement's id.")],
        version: Annotated[int, typer.Option("--version", help="The version to sign.")],
        key: Annotated[Path, typer.Option("--key", help="Your private key (fusioncell keys new --signatory).")],
        yes: Annotated[
            bool, typer.Option("--yes", help="Sign without asking (the text is shown all the same).")
        ] = False,
    ) -> None:
        """Fetch exactly that version, check its digest, show it, sign it here with your key, and upload the
        signature. The key never leaves this machine."""
        from fusioncell.agreements.binding import digest, signing_message
        from fusioncell.client import ClientError
        from fusioncell.terminal import _api, _fail

        signer = _signer(key)
        api, creds = _api()
        try:
            fetched = api.request("GET", f"/api/v1/agreements/{agreement}/versions/{version}").json()
        except ClientError as exc:
            _fail(str(exc))
        document = fetched["document"]
        computed = digest(document)
        if (
            computed != fetched["digest"]
            or document.get("agreement") != agreement
            or document.get("version") != version
        ):
            _fail(
                f"the server's digest {fetched['digest']} is not the document's ({computed}), or the document is not "
                f"agreement {agreement} version {version}: nothing signed; tell the mediator"
            )
        _show(document, computed)
        if not yes and not typer.confirm(f"Sign version {version} of agreement {agreement} as {signer.name}?"):
            err.print("Nothing signed.")
            raise typer.Exit(1)
        import base64

        key_id = f"{signer.name}+{signer.verifier.id:08x}"
        message = signing_message(document["origin"], agreement, version, computed, key_id)
        signature = base64.b64encode(signer.sign(message)).decode()
        try:
            r = api.request(
                "POST",
                f"/api/v1/agreements/{agreement}/versions/{version}/signatures",
                json={"key_id": key_id, "signature": signature},
            )
        except ClientError as exc:
            _fail(str(exc))
        state = r.json()
        mine = next(v for v in state["versions"] if v["version"] == version)
        if mine["binds"]:
            console.print(f"[green]Signed.[/] Version {version} now binds: every signatory has signed it.")
        else:
            console.print(
                f"[green]Signed[/] for {plain(creds.username)}. Still to sign: {plain(', '.join(mine['missing']))}.",
                highlight=False,
            )


def _show(document: dict[str, Any], computed: str) -> None:
    lang = document["authoritative"]
    body = f"{document['text'][lang]}\n\nSignatories: {', '.join(document['signatories'])}\nSHA-256: {computed}"
    console.print(
        Panel(shown(body, lines=True), title=shown(document["title"][lang]), subtitle=f"version {document['version']}")
    )
    if document["milestones"]:
        table = Table("milestone", "obligor", "verifier", "starts", "due", "criterion", show_lines=True)
        for m in document["milestones"]:
            table.add_row(
                shown(m["title"][lang]), m["obligor"], m["verifier"], m["starts"], m["due"], shown(m["criterion"][lang])
            )
        console.print(table)
