"""The ledger's command line: `fusioncell keys new`, `fusioncell witness serve`."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer

from fusioncell.cliutil import console, err, friendly, plain
from fusioncell.files import write_owner_only


@contextmanager
def entries_progress(label: str, *, every: int = 1) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr with the rate in entries a second; yields the `progress(done, total)`
    callback the long ledger work reports to (every `every` entries, and at the end)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), console=err,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=None, rate="")
        t0 = time.perf_counter()

        def step(done: int, total: int) -> None:
            if done % every == 0 or done == total:
                rate = done / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} entries/s")

        yield step


keys_app = typer.Typer(
    no_args_is_help=True, help="Signing keys: the log's, each party's witness's, and each signatory's."
)
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
    signatory: Annotated[
        bool,
        typer.Option(
            "--signatory",
            help="A signatory's key for signing agreements, named for your username (default: the one "
            "you logged in as).",
        ),
    ] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="Data directory whose charter names the origin (log keys).")
    ] = None,
) -> None:
    """Make an Ed25519 key pair: the private key into a file only you can read, the verifier key printed."""
    from fusioncell.ledger.log import write_private_key
    from fusioncell.ledger.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteError, Signer

    if signatory and witness:
        err.print("[bold red]a key is a witness's or a signatory's[/]: give --witness or --signatory, not both")
        raise typer.Exit(2)
    if name is None and signatory:
        from fusioncell.client import ClientError, Credentials

        try:
            name = Credentials.load().username
        except ClientError as exc:
            err.print(f"[bold red]{plain(str(exc))}[/] (or give --name YOUR_USERNAME)")
            raise typer.Exit(2) from None
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
        err.print(f"[bold red]{plain(str(out))} exists[/]: a key is never overwritten; choose another --out")
        raise typer.Exit(2)
    try:
        signer = Signer.generate(name, alg=ALG_COSIGNATURE_V1 if witness else ALG_ED25519)
    except NoteError as exc:
        err.print(f"[bold red]{plain(str(exc))}[/]")
        raise typer.Exit(2) from None
    write_private_key(out, signer)
    console.print(f"[green]Wrote[/] {plain(str(out))} (readable by you only). Verifier key:", highlight=False)
    print(signer.verifier)
    if signatory:
        console.print(
            "Keep the private key on this machine. Next: `fusioncell keys register --key "
            f"{plain(shlex.quote(str(out)))}`; it signs once the mediator has approved it.",
            highlight=False,
        )


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
    max_evidence_bytes: Annotated[
        int,
        typer.Option(
            min=0,
            envvar="FUSIONCELL_WITNESS_MAX_EVIDENCE_BYTES",
            help="Space the kept evidence of a log's misbehaviour may take, per log; past it new cases are logged "
            "and counted, not kept.",
        ),
    ] = 16 * 1024 * 1024,  # witness.MAX_EVIDENCE_BYTES (the command line imports the ledger only when it runs)
) -> None:
    """Serve C2SP tlog-witness add-checkpoint: cosign each checkpoint that extends the last one cosigned."""
    import uvicorn

    from fusioncell.ledger.log import read_private_key
    from fusioncell.ledger.note import ALG_COSIGNATURE_V1
    from fusioncell.ledger.witness import SUBMISSION_PATH, WitnessState, make_witness_app

    signer = read_private_key(key)
    if signer.alg != ALG_COSIGNATURE_V1:
        err.print(f"[bold red]{plain(str(key))} is not a witness key[/]: make one with `fusioncell keys new --witness`")
        raise typer.Exit(2)
    witness_state = WitnessState(state, max_evidence_bytes=max_evidence_bytes)
    logs = _trusted(state, log_url, log_key or [])
    console.print(
        f"Witness [bold]{plain(signer.name)}[/] for {', '.join(sorted(logs))} at "
        f"http://{host}:{port}{SUBMISSION_PATH.removesuffix('/add-checkpoint')} — key {signer.verifier}",
        highlight=False,
    )
    app = make_witness_app(logs=logs, signer=signer, state=witness_state)  # type: ignore[arg-type]
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)


def _trusted(state: Path, log_url: str | None, log_keys: list[str]):  # type: ignore[no-untyped-def]
    from fusioncell.ledger.witness import TrustError, trusted_log_keys

    try:
        return trusted_log_keys(state, log_url, log_keys, say=lambda text: console.print(f"[yellow]{plain(text)}[/]"))
    except TrustError as exc:
        err.print(f"[bold red]{plain(str(exc))}[/]")
        raise typer.Exit(1) from None


@witness_app.command("mirror")
@friendly
def witness_mirror(
    state: Annotated[Path, typer.Option("--state", help="The witness's state directory (keeps the leaves seen).")],
    log_url: Annotated[
        str | None, typer.Option("--log", help="The log's URL (default: the server you logged in to).")
    ] = None,
    log_key: Annotated[str | None, typer.Option("--log-key", help="The log's verifier key to trust.")] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="FUSIONCELL_TOKEN", help="A bearer token (default: from `fusioncell login`)."),
    ] = None,
    contents: Annotated[
        bool, typer.Option("--contents/--no-contents", help="Also open and check every content you may read.")
    ] = True,
) -> None:
    """Fetch every entry, recompute the Merkle root, compare it with the log's checkpoint and with what this
    witness cosigned, and check every content you may read against its commitment. Exit 1 on any mismatch."""
    from fusioncell.client import ClientError, Credentials
    from fusioncell.ledger.mirror import MirrorFailure, mirror

    if token is None or log_url is None:
        try:
            saved = Credentials.load()
        except ClientError as exc:
            err.print(f"[bold red]{plain(str(exc))}[/] (or give --log and --token)")
            raise typer.Exit(2) from None
        token = token or saved.access_token
        log_url = log_url or saved.server
    keys = _trusted(state, log_url, [log_key] if log_key else [])
    key = next(iter(keys.values())) if len(keys) == 1 else None
    if key is None:
        err.print("[bold red]this state directory trusts several logs[/]: give --log-key for the one to mirror")
        raise typer.Exit(2)
    with entries_progress("mirror") as step:
        try:
            report = mirror(log_url=log_url, token=token, log_key=key, state=state, contents=contents, progress=step)
        except MirrorFailure as exc:
            err.print(f"[bold red]the log fails the check:[/] {plain(str(exc))}")
            raise typer.Exit(1) from None
        except httpx.HTTPError as exc:
            err.print(f"[bold red]cannot read the log at {plain(log_url)}[/]: {plain(str(exc))}")
            raise typer.Exit(2) from None
    console.print(
        f"[green]The log checks out[/]: {report.size:,} entries hash to the signed root "
        f"({report.contents_checked:,} contents opened and matched), {report.rate:,.0f} entries/s"
        + (f"; consistent with the {report.cosigned_size:,} this witness cosigned" if report.cosigned_size else ""),
        highlight=False,
    )


def export_evidence(
    subject: Annotated[str, typer.Option("--subject", help="What the evidence is about, e.g. message:17.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the bundle (JSON).")],
    server: Annotated[str | None, typer.Option(help="The cell's URL (default: the one you logged in to).")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="FUSIONCELL_TOKEN", help="A bearer token (default: from `fusioncell login`).")
    ] = None,
) -> None:
    """Pack the entries about a subject, the contents you may read, inclusion proofs to a final checkpoint, its
    cosignatures and the public keys into one file that `fusioncell verify` checks offline."""
    from fusioncell.client import ClientError, Credentials, problem_message

    if token is None or server is None:
        try:
            saved = Credentials.load()
        except ClientError as exc:
            err.print(f"[bold red]{plain(str(exc))}[/] (or give --server and --token)")
            raise typer.Exit(2) from None
        token, server = token or saved.access_token, server or saved.server
    # an agreement's evidence is several bundles: about it, and about each key that signed it
    agreement = subject.removeprefix("agreement:") if subject.startswith("agreement:") else None
    path = (
        f"/api/v1/agreements/{agreement}/evidence" if agreement and agreement.isdigit() else "/api/v1/ledger/evidence"
    )
    try:
        r = httpx.get(
            server.rstrip("/") + path,
            params={} if path.startswith("/api/v1/agreements") else {"subject": subject},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
    except httpx.HTTPError as exc:
        err.print(f"[bold red]cannot reach {plain(server)}[/]: {plain(str(exc))}")
        raise typer.Exit(2) from None
    if r.status_code != 200:
        err.print(f"[bold red]no evidence:[/] {plain(problem_message(r))}")
        raise typer.Exit(1)
    write_owner_only(out, r.content.decode("utf-8"))  # what it holds is for its audiences: readable by you only
    bundle = r.json()
    if "bundles" in bundle:
        subjects = ", ".join(b["subject"] for b in bundle["bundles"])
        console.print(f"[green]Wrote[/] {plain(str(out))} (readable by you only): bundles about {plain(subjects)}.")
        bundle = bundle["bundles"][0]
    console.print(
        f"[green]Wrote[/] {plain(str(out))} (readable by you only): {len(bundle['entries'])} entries about "
        f"{plain(subject)}, {sum('content' in e for e in bundle['entries'])} with their content, proven to a "
        f"checkpoint of {bundle['checkpoint'].split(chr(10))[1]} entries.",
        highlight=False,
    )
    # verify trusts no key the bundle carries: the witnesses' keys come from the agreed charter, or are pinned as
    # each party published them (never copied from the bundle unchecked: a forged bundle names forged keys)
    shown_out = plain(shlex.quote(str(out)))
    console.print("Check it anywhere, with the charter the parties agreed:", highlight=False)
    console.print(f"  fusioncell verify {shown_out} --charter CHARTER.yaml", highlight=False)
    witnesses = [w for w in bundle.get("witnesses", []) if isinstance(w, dict)]
    if witnesses:
        pins = " ".join(f"--witness-key {str(w.get('delegation', '?')).upper()}_WITNESS_KEY" for w in witnesses)
        console.print("or pinning each party's witness key, as that party published it:", highlight=False)
        console.print(f"  fusioncell verify {shown_out} {plain(pins)}", highlight=False)
        console.print("The bundle names these; compare each with its party's published key before pinning it:")
        for w in witnesses:
            console.print(f"  {plain(w.get('delegation'))}  {plain(w.get('key'))}", highlight=False)


def verify_bundle(
    bundle: Annotated[Path, typer.Argument(help="An evidence bundle (fusioncell export-evidence).")],
    log_key: Annotated[str | None, typer.Option("--log-key", help="Pin the log's verifier key.")] = None,
    witness_key: Annotated[
        list[str] | None, typer.Option("--witness-key", help="Pin a witness's verifier key (repeatable).")
    ] = None,
    charter: Annotated[
        Path | None, typer.Option("--charter", help="The agreed charter file: it must be the one the log adopted.")
    ] = None,
) -> None:
    """Check an evidence bundle offline; exit 1 with the precise reason on any failure. The witnesses' keys must be
    anchored outside the bundle: by --charter (the agreed file, naming them) or by --witness-key."""
    from fusioncell.ledger.evidence import EvidenceError, verify

    try:
        data = json.loads(bundle.read_bytes())
    except OSError as exc:
        err.print(f"[bold red]cannot read {plain(str(bundle))}[/]: {plain(exc.strerror or str(exc))}")
        raise typer.Exit(2) from None
    except ValueError:
        err.print(f"[bold red]verification failed:[/] {plain(str(bundle))} is not JSON")
        raise typer.Exit(1) from None
    if not isinstance(data, dict):
        err.print("[bold red]verification failed:[/] the bundle is not a JSON object")
        raise typer.Exit(1)
    digest = None
    if charter is not None:
        import hashlib

        try:
            digest = hashlib.sha256(charter.read_bytes()).hexdigest()
        except OSError as exc:
            err.print(f"[bold red]cannot read {plain(str(charter))}[/]: {plain(exc.strerror or str(exc))}")
            raise typer.Exit(2) from None
    from fusioncell.agreements import evidence as agreement_evidence

    if data.get("format") == agreement_evidence.FORMAT:
        _verify_agreement(data, log_key=log_key, witness_keys=witness_key, charter_sha256=digest)
        return
    with entries_progress("verify", every=256) as step:
        try:
            result = verify(data, log_key=log_key, witness_keys=witness_key, charter_sha256=digest, progress=step)
        except EvidenceError as exc:
            err.print(f"[bold red]verification failed:[/] {plain(str(exc))}")
            raise typer.Exit(1) from None
    console.print(
        f"[green]Verified[/]: {result.entries} entries about {plain(result.subject)} are in the log "
        f"{plain(result.origin)} at its final checkpoint of {result.size} entries, cosigned by "
        f"{', '.join(result.cosigned_by)}; {result.contents} contents match their commitments.",
        highlight=False,
    )
    if result.complete:
        console.print(
            f"[green]Complete[/]: these are all the entries about {plain(result.subject)} up to that checkpoint "
            f"in every audience its exporter, {plain(result.exported_by)}, reads; an entry not here did not happen "
            "there.",
            highlight=False,
        )
    else:
        console.print(
            "[yellow]Not shown complete[/]: this bundle was exported before the log kept its map of subjects, so it "
            "proves that its entries are in the log, not that no other entry about its subject is.",
            highlight=False,
        )


def _verify_agreement(data: dict, **pins: object) -> None:
    """The evidence that an agreement binds: every bundle checked, then the binding state computed from them."""
    from fusioncell.agreements.evidence import verify as verify_agreement
    from fusioncell.ledger.evidence import EvidenceError

    with err.status("Checking the bundles…"):
        try:
            checked = verify_agreement(data, **pins)  # type: ignore[arg-type]
        except EvidenceError as exc:
            err.print(f"[bold red]verification failed:[/] {plain(str(exc))}")
            raise typer.Exit(1) from None
    for found in checked.bundles:
        console.print(
            f"[green]Verified[/]: {found.entries} entries about {plain(found.subject)} at the final checkpoint of "
            f"{found.size} entries, cosigned by {', '.join(found.cosigned_by)}"
            + ("; complete" if found.complete else ""),
            highlight=False,
        )
    for state in checked.assessment.versions:
        title = plain(checked.titles.get(state.version, ""))
        if state.binds:
            last = state.bound_at.isoformat() if state.bound_at else "?"
            console.print(f"Version {state.version} ({title}) [green]binds[/]: every signatory signed it validly, the "
                          f"last at {last}.", highlight=False)  # fmt: skip
        else:
            console.print(f"Version {state.version} ({title}) does not bind: {', '.join(state.missing)} "
                          "have no valid signature.", highlight=False)  # fmt: skip
        for signature, reason in state.invalid:
            console.print(
                f"  {plain(signature.delegation)}'s signature does not count: {plain(reason)}", highlight=False
            )
    in_force = checked.assessment.in_force
    console.print(
        f"[green]In force[/]: version {in_force} of agreement {checked.agreement}."
        if in_force is not None
        else f"[yellow]Agreement {checked.agreement} does not bind[/]: no version has every signatory's valid "
        "signature.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(witness_app, name="witness")
    app.command("export-evidence")(friendly(export_evidence))
    app.command("verify")(friendly(verify_bundle))
