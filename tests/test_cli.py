"""The set-up commands a newcomer runs."""

from __future__ import annotations

import json
import re
import stat
import time

from typer.testing import CliRunner

from fusioncell.cli import DEMO_ACCOUNTS
from fusioncell.cli import app as cli
from tests.conftest import EXAMPLE_CHARTER

runner = CliRunner()


def test_demo_initialises_once_and_prints_the_accounts(tmp_path) -> None:
    data = tmp_path / "demo"
    first = runner.invoke(cli, ["demo", "--data", str(data), "--no-serve"])
    assert first.exit_code == 0, first.output
    accounts = json.loads((data / "demo-accounts.json").read_text())
    assert [a["username"] for a in accounts] == [a[0] for a in DEMO_ACCOUNTS]
    assert stat.S_IMODE((data / "demo-accounts.json").stat().st_mode) == 0o600
    for account in accounts:
        assert account["username"] in first.output and account["password"] in first.output
    # demo traffic in every track, through the real commands: a negative read-back alerted the mediator
    from fusioncell.app import open_cell
    from fusioncell.deescalation.models import Activity, ActivityConflict, Incident
    from fusioncell.disputes.models import Dispute
    from fusioncell.settings import Settings
    from fusioncell.traffic.models import Alert, Message

    cell = open_cell(Settings(data=data))
    with cell.reading() as session:
        messages = session.query(Message).all()
        alerts = session.query(Alert).all()
        activities = session.query(Activity).all()
        conflicts = session.query(ActivityConflict).all()
        incidents = session.query(Incident).all()
    assert {m.track for m in messages} == {"intelligence", "de-escalation", "diplomatic", "commercial", "humanitarian"}
    # the ground picture: activities on the map, one of them knowingly in conflict, and an incident
    assert len(activities) == 4 and len(incidents) == 1
    assert len({c.activity_id for c in conflicts}) == 1
    assert {c.kind for c in conflicts} >= {"zone", "activity"}
    # and the cases: one under review (a request for information to IL), one resolved, one awaiting acknowledgement
    kinds = sorted(a.kind for a in alerts)
    assert [k for k in kinds if not k.startswith(("dispute_", "milestone_"))] == [
        "activity_conflict", "activity_conflict", "readback_negative"]  # fmt: skip
    assert [k for k in kinds if k.startswith("dispute_")] == ["dispute_information"] + ["dispute_opened"] * 6
    # the timeline binds; its second phase is overdue: both parties and the mediator alerted, a case opened
    assert [k for k in kinds if k.startswith("milestone_")] == ["milestone_overdue"] * 3
    with cell.reading() as session:
        cases = sorted((d.state, d.source_kind or "") for d in session.query(Dispute).all())
    assert cases == [("open", "clarification"), ("open", "milestone"), ("resolved", ""), ("under-review", "incident")]
    assert "Seeded" in first.output and "Opened 3 demo disputes" in first.output and "phased-withdrawal" in first.output
    assert stat.S_IMODE((data / "keys" / "sy.signatory.key").stat().st_mode) == 0o600
    cell.db.dispose()
    # a second run keeps the same data and accounts
    second = runner.invoke(cli, ["demo", "--data", str(data), "--no-serve"])
    assert second.exit_code == 0, second.output
    assert json.loads((data / "demo-accounts.json").read_text()) == accounts
    listed = json.loads(runner.invoke(cli, ["users", "list", "--json", "--data", str(data)]).output)
    assert len(listed) == len(DEMO_ACCOUNTS)
    # a password reset since: the old one is not printed as if it still worked (issue 14.15)
    reset = runner.invoke(cli, ["users", "reset-password", "sy.liaison", "--password-stdin", "--data", str(data)],
                          input="a brand new night passphrase\n")  # fmt: skip
    assert reset.exit_code == 0, reset.output
    third = runner.invoke(cli, ["demo", "--data", str(data), "--no-serve"])
    [row] = [line for line in third.output.splitlines() if "sy.liaison" in line]
    old = next(a["password"] for a in accounts if a["username"] == "sy.liaison")
    assert old not in third.output and "changed since" in row
    assert next(a["password"] for a in accounts if a["username"] == "il.liaison") in third.output


def test_init_refuses_a_broken_charter_naming_the_field(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        EXAMPLE_CHARTER.read_text(encoding="utf-8").replace("  - id: humanitarian\n", "  - idd: humanitarian\n"),
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["init", "--charter", str(broken), "--data", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "broken.yaml" in result.output and "tracks[4]" in result.output
    assert not (tmp_path / "d").exists()  # nothing written


def test_init_refuses_a_different_charter_on_an_initialised_directory(tmp_path) -> None:
    data = tmp_path / "d"
    made = runner.invoke(cli, ["init", "--charter", str(EXAMPLE_CHARTER), "--data", str(data)])
    assert made.exit_code == 0
    # the log key comes out whole on one line, whatever the width (issue 14.12: it was wrapped at 80 columns)
    [line] = [x for x in made.output.splitlines() if x.startswith("Log key")]
    key = line.split(": ", 1)[1]
    assert re.fullmatch(r"[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{40,}={0,2}", key) and len(line) > 80, line
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE_CHARTER.read_text(encoding="utf-8").replace("PT5M", "PT6M"), encoding="utf-8")
    result = runner.invoke(cli, ["init", "--charter", str(other), "--data", str(data)])
    assert result.exit_code == 1 and "different charter" in result.output


def test_commands_on_an_uninitialised_directory_say_what_to_do(tmp_path) -> None:
    result = runner.invoke(cli, ["users", "list", "--data", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "fusioncell init --charter FILE" in result.output


def test_reset_password_and_totp_through_the_cli(tmp_path) -> None:
    data = str(tmp_path / "d")
    assert runner.invoke(cli, ["init", "--charter", str(EXAMPLE_CHARTER), "--data", data]).exit_code == 0
    add = runner.invoke(
        cli,
        [
            "users",
            "add",
            "undof.obs",
            "--delegation",
            "UNDOF",
            "--role",
            "observer",
            "--password-stdin",
            "--data",
            data,
        ],
        input="observer-passphrase-1\n",
    )
    assert add.exit_code == 0, add.output
    reset = runner.invoke(
        cli,
        ["users", "reset-password", "undof.obs", "--password-stdin", "--data", data],
        input="observer-passphrase-2\n",
    )
    assert reset.exit_code == 0, reset.output
    totp = runner.invoke(cli, ["users", "totp", "undof.obs", "--data", data])
    assert totp.exit_code == 0 and "otpauth://totp/" in totp.output
    missing = runner.invoke(cli, ["users", "disable", "ghost", "--data", data])
    assert missing.exit_code == 1 and "no account named 'ghost'" in missing.output


def test_demo_drill_keeps_traffic_flowing_from_accounts_of_its_own(cell) -> None:
    """Issue 14.15: a newcomer signed in as sy.liaison must not see messages it never wrote."""
    from fusioncell.demo import SCENES, DemoDrill, ensure_drill_accounts

    ensure_drill_accounts(cell)
    ensure_drill_accounts(cell)  # once: a second start opens none
    drill = DemoDrill(cell)
    for _ in range(len(SCENES) + 1):
        drill.step()
    from fusioncell.auth.models import User
    from fusioncell.traffic.models import Delivery, Message

    with cell.reading() as session:
        messages = session.query(Message).all()
        acknowledged = session.query(Delivery).filter(Delivery.acknowledged_at.isnot(None)).all()
        drillers = {u.username for u in session.query(User).filter(User.username.like("%.drill")).all()}
    assert len(messages) == len(SCENES) + 1
    assert 0 < len(acknowledged) < len(messages)
    assert {m.sender for m in messages} <= drillers == {"sy.drill", "il.drill", "us.drill"}
    assert {d.acknowledged_by for d in acknowledged} <= drillers


def test_demo_witnesses_make_checkpoints_final(tmp_path) -> None:
    """`make run` runs the parties' witnesses beside the demo: its checkpoints become final, and the adopted
    charter names the witnesses' keys, so evidence from the demo verifies against the ledger itself."""
    from importlib import resources

    from fusioncell.app import open_cell
    from fusioncell.demo import demo_charter_with_witnesses, start_demo_witnesses
    from fusioncell.ledger import log
    from fusioncell.ledger.log import Checkpointer
    from fusioncell.settings import Settings
    from fusioncell.setup import init_cell
    from tests.conftest import CLI_ACTOR
    from tests.server import free_port

    data = tmp_path / "demo"
    data.mkdir()
    example = (resources.files("fusioncell.charter") / "examples" / "paris-2026.yaml").read_text()
    charter = tmp_path / "demo-charter.yaml"
    charter.write_text(demo_charter_with_witnesses(example, data, ports=(free_port(), free_port())))
    settings = Settings(data=data, scheduler_enabled=False)
    init_cell(settings, charter, actor=CLI_ACTOR)
    cell = open_cell(settings)
    assert [w.delegation for w in cell.charter.ledger.witnesses] == ["SY", "IL"]
    assert stat.S_IMODE((data / "witnesses" / "sy.key").stat().st_mode) == 0o600
    assert len(start_demo_witnesses(cell)) == 2
    checkpointer = Checkpointer(cell)
    deadline = time.monotonic() + 20
    while log.latest_final(cell) is None:  # the witness threads take a moment to listen
        assert time.monotonic() < deadline, "the demo's checkpoints never became final"
        checkpointer.tick()
        time.sleep(0.2)
    checkpointer.witnesses.close()

    # the charter names the witnesses' keys: the agreed charter file alone anchors an evidence bundle
    import hashlib

    import pytest

    from fusioncell.ledger.evidence import EvidenceError, export, verify
    from fusioncell.policy import Principal

    reader = Principal("il.liaison", "IL", frozenset({"liaison"}))
    bundle = export(cell, reader, f"charter:{cell.charter.mechanism.log_origin}")
    result = verify(bundle, charter_sha256=hashlib.sha256(charter.read_bytes()).hexdigest())
    assert result.cosigned_by == ["il.witness.demo", "sy.witness.demo"]
    with pytest.raises(EvidenceError, match="not the charter file you gave"):
        verify(bundle, charter_sha256=hashlib.sha256(b"another charter").hexdigest())
    with pytest.raises(EvidenceError, match="nothing outside the bundle anchors"):
        verify(bundle)


def test_demo_witness_keys_survive_an_interrupted_first_set_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A first `make run` that stopped after making the witnesses' keys (the database down, say) does not stop
    the next one: the keys are kept, and the charter names the same witnesses."""
    from fusioncell.demo import demo_charter_with_witnesses

    first = demo_charter_with_witnesses("mechanism: {}\n", tmp_path)
    again = demo_charter_with_witnesses("mechanism: {}\n", tmp_path)
    assert first == again and "key:" in again
