"""The ledger's command line: `fusioncell keys new`, `fusioncell witness serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fusioncell.cliutil import console, err, friendly

keys_app = typer.Typer(no_args_is_help=True, help="Signing keys: the log's, and each party's witness's.")
witness_app = typer.Typer(no_args_is_help=True, help="A party's witness of the log (C2SP tlog-witness).")


@keys_app.command("new")
@friendly
def keys_new(
    out: Annotated[Path, typer.Option("--out", help="Where to write the private key (created, owner-only).")],
    name: Annotated[
        str | None,
        typer.Option(help="Key name: the log's origin for a log key, a URL-like name for a witness key."),
    ] = None,
    witness: Annotated[bool, typer.Option("--witness", help="A witness's cosigning key (type 0x04).")] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="Data directory whose charter names the origin (log keys).")
    ] = None,
) -> None:
    """Make an Ed25519 key pair: the private key into a file only you can read, the verifier key printed."""
    from fusioncell.ledger.log import write_private_key
    from fusioncell.ledger.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteError, Signer

    if name is None:
        if witness:
            err.print("[bold red]a witness key needs --name[/] (for example --name sy.witness.example)")
            raise typer.Exit(2)
        from fusioncell.charter import load_charter
        from fusioncell.settings import load_settings

        settings = load_settings(data=data)
        if not settings.charter_path.exists():
            err.print(
                f"[bold red]no charter in {settings.data}[/]: give --name ORIGIN, or --data of an initialised cell"
            )
            raise typer.Exit(2)
        name = load_charter(settings.charter_path).mechanism.log_origin
    if out.exists():
        err.print(f"[bold red]{escape(str(out))} exists[/]: a key is never overwritten; choose another --out")
        raise typer.Exit(2)
    try:
        signer = Signer.generate(name, alg=ALG_COSIGNATURE_V1 if witness else ALG_ED25519)
    except NoteError as exc:
        err.print(f"[bold red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    write_private_key(out, signer)
    console.print(f"[green]Wrote[/] {escape(str(out))} (readable by you only). Verifier key:", highlight=False)
    print(signer.verifier)


def _pinned_log_keys(state: Path, log_url: str | None, log_keys: list[str]) -> dict[str, object]:
    """The log keys this witness trusts, by origin: given with --log-key, or learned from --log on first start
    and pinned in the state directory (a later start refuses a different key)."""
    import httpx

    from fusioncell.ledger.note import ALG_ED25519, NoteError, Verifier

    keys: dict[str, Verifier] = {}
    for text in log_keys:
        try:
            v = Verifier.parse(text)
        except NoteError as exc:
            err.print(f"[bold red]--log-key {escape(text)}[/]: {escape(str(exc))}")
            raise typer.Exit(2) from None
        keys[v.name] = v
    pins = state / "pinned-log-keys"
    pins.mkdir(parents=True, exist_ok=True, mode=0o700)
    if log_url:
        try:
            info = httpx.get(log_url.rstrip("/") + "/api/v1/ledger/log", timeout=10).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            err.print(f"[bold red]cannot read the log's key from {escape(log_url)}[/]: {escape(str(exc))}")
            raise typer.Exit(1) from None
        served = Verifier.parse(info["log_key"])
        given = keys.get(served.name)
        if given is not None and given != served:
            err.print(f"[bold red]the log at {escape(log_url)} serves key {served}, not the --log-key given[/]")
            raise typer.Exit(1)
        keys[served.name] = served
    for v in keys.values():
        if v.alg != ALG_ED25519:
            err.print(f"[bold red]{v.name}: a log key is an Ed25519 note key (type 0x01)[/]")
            raise typer.Exit(2)
        pin = pins / (v.name.replace("/", "_") + ".vkey")
        if pin.exists() and pin.read_text().strip() != str(v):
            err.print(
                f"[bold red]the log {escape(v.name)} now has key {v}[/], but this witness pinned "
                f"{escape(pin.read_text().strip())}: a log does not change keys silently. Stop and ask the cell."
            )
            raise typer.Exit(1)
        if not pin.exists():
            pin.write_text(str(v) + "\n")
            if v.name not in {Verifier.parse(t).name for t in log_keys}:
                console.print(f"[yellow]pinned the key the log serves[/]: {v} (check it with the cell)")
    for pin in pins.glob("*.vkey"):
        v = Verifier.parse(pin.read_text())
        keys.setdefault(v.name, v)
    if not keys:
        err.print("[bold red]no log to witness[/]: give --log URL or --log-key VKEY")
        raise typer.Exit(2)
    return keys  # type: ignore[return-value]


@witness_app.command("serve")
@friendly
def witness_serve(
    key: Annotated[Path, typer.Option("--key", help="This witness's private key (fusioncell keys new --witness).")],
    state: Annotated[Path, typer.Option("--state", help="Directory for what the witness has seen and cosigned.")],
    log_url: Annotated[str | None, typer.Option("--log", help="The log's URL (its key is read and pinned).")] = None,
    log_key: Annotated[
        list[str] | None, typer.Option("--log-key", help="A log's verifier key to trust (repeatable).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8100,
) -> None:
    """Serve C2SP tlog-witness add-checkpoint: cosign each checkpoint that extends the last one cosigned."""
    import uvicorn

    from fusioncell.ledger.log import read_private_key
    from fusioncell.ledger.note import ALG_COSIGNATURE_V1
    from fusioncell.ledger.witness import SUBMISSION_PATH, WitnessState, make_witness_app

    signer = read_private_key(key)
    if signer.alg != ALG_COSIGNATURE_V1:
        err.print(
            f"[bold red]{escape(str(key))} is not a witness key[/]: make one with `fusioncell keys new --witness`"
        )
        raise typer.Exit(2)
    witness_state = WitnessState(state)
    logs = _pinned_log_keys(state, log_url, log_key or [])
    console.print(
        f"Witness [bold]{escape(signer.name)}[/] for {', '.join(sorted(logs))} at "
        f"http://{host}:{port}{SUBMISSION_PATH.removesuffix('/add-checkpoint')} — key {signer.verifier}",
        highlight=False,
    )
    app = make_witness_app(logs=logs, signer=signer, state=witness_state)  # type: ignore[arg-type]
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
