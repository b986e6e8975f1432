"""The intelligence benchmark: STIX objects into a TAXII 2.1 server and back out, with taxii2-client (the client
MISP and OpenCTI users script with) against fusioncell and, in the same run, against medallion (the OASIS TAXII
2.1 reference server, memory backend).

Ingest: envelopes of ENVELOPE objects added with `add_objects(wait_for_completion=True)`. fusioncell checks every
object to the stix2 library's rules and writes it durably with its ledger entry; medallion keeps it in memory.
Paging: `as_pages(get_objects, per_request=PAGE)` over the whole collection, each page timed. fusioncell's
objects are a party's submissions the mediator then releases (the release is timed apart); medallion's go
straight into its collection.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.shared import free_port, percentile, progress

ROOT = Path(__file__).resolve().parent.parent.parent
RESULTS = ROOT / "bench" / "results"
console = Console()

PASSWORD = "bench-analyst-password"
ENVELOPE = 500
PAGE = 1000
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TARGET_INGEST = 3_000.0
TARGET_PAGING = 20_000.0
TARGET_PAGE_P99_MS = 50.0
TARGET_VS_MEDALLION_PAGING = 10.0
TARGET_VS_MEDALLION_INGEST = 1.5


def stix_objects(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """A feed's mix: indicators with patterns (most of the checking cost), malware, IPv4 observables, and
    relationships between them; every object TLP:GREEN."""
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    base = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    while len(objects) < n:
        i = len(objects)
        stamp = base.replace(second=i % 60, microsecond=(i * 1000) % 1_000_000).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        stamp += "Z"
        ip = f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
        kind = i % 10
        uid = uuid.UUID(int=rng.getrandbits(128), version=4)
        if kind < 6:
            obj = {
                "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uid}", "created": stamp,
                "modified": stamp, "name": f"Launch control uplink {i}", "indicator_types": ["malicious-activity"],
                "pattern": f"[ipv4-addr:value = '{ip}'] OR [domain-name:value = 'c{i}.example.net']",
                "pattern_type": "stix", "valid_from": stamp, "object_marking_refs": [GREEN],
            }  # fmt: skip
        elif kind < 7:
            obj = {
                "type": "malware", "spec_version": "2.1", "id": f"malware--{uid}", "created": stamp,
                "modified": stamp, "name": f"Dropper family {i}", "is_family": True,
                "malware_types": ["dropper"], "object_marking_refs": [GREEN],
            }  # fmt: skip
        elif kind < 9:
            obj = {
                "type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uid}", "value": ip,
                "object_marking_refs": [GREEN],
            }  # fmt: skip
        else:
            obj = {
                "type": "relationship", "spec_version": "2.1", "id": f"relationship--{uid}", "created": stamp,
                "modified": stamp, "relationship_type": "indicates", "source_ref": objects[i - 9]["id"],
                "target_ref": objects[i - 3]["id"], "object_marking_refs": [GREEN],
            }  # fmt: skip
        objects.append(obj)
    return objects


def ingest(collection, objects: list[dict[str, Any]], label: str) -> float:  # type: ignore[no-untyped-def]
    with progress(console) as bar:
        task = bar.add_task(label, total=len(objects), rate="")
        t = time.perf_counter()
        for start in range(0, len(objects), ENVELOPE):
            chunk = objects[start : start + ENVELOPE]
            status = collection.add_objects({"objects": chunk}, wait_for_completion=True, poll_interval=0.05)
            if status.status != "complete" or status.success_count != len(chunk):
                raise RuntimeError(f"{label}: {status.success_count}/{len(chunk)} added, {status.failures}")
            done = start + len(chunk)
            bar.update(task, completed=done, rate=f"{done / (time.perf_counter() - t):,.0f} objects/s")
        return len(objects) / (time.perf_counter() - t)


def page_through(collection, expected: int, label: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from taxii2client.v21 import as_pages

    times: list[float] = []
    seen = 0
    # The bench's own heap (the objects it sent, fusioncell imported to set the cell up) is moved out of the
    # collector's sight, as `fusioncell serve` does with its start-up objects: otherwise a full collection in this
    # process, scanning all of it, lands in some page's time (70-90 ms here) though no TAXII client carries it.
    gc.collect()
    gc.freeze()

    def timed(**kwargs):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        envelope = collection.get_objects(**kwargs)
        times.append(time.perf_counter() - t)
        return envelope

    with progress(console) as bar:
        task = bar.add_task(label, total=expected, rate="")
        t = time.perf_counter()
        for envelope in as_pages(timed, per_request=PAGE):
            seen += len(envelope.get("objects", []))
            bar.update(task, completed=seen, rate=f"{seen / (time.perf_counter() - t):,.0f} objects/s")
        elapsed = time.perf_counter() - t
    gc.unfreeze()
    if seen != expected:
        raise RuntimeError(f"{label}: paged {seen} objects, expected {expected}")
    return {
        "objects": seen,
        "pages": len(times),
        "objects_per_s": round(seen / elapsed),
        "page_p50_ms": round(percentile(times, 50) * 1000, 2),
        "page_p99_ms": round(percentile(times, 99) * 1000, 2),
    }


# -- fusioncell ------------------------------------------------------------------------------------------------


def _fusioncell(directory: Path) -> tuple[subprocess.Popen[bytes], str, Any]:
    from fusioncell.auth import service as auth
    from fusioncell.policy import Principal
    from fusioncell.settings import Settings
    from fusioncell.setup import init_cell

    settings = Settings(data=directory / "data", scheduler_enabled=False, max_body_bytes=4 * 1024 * 1024)
    cell = init_cell(settings, ROOT / "charters" / "paris-2026.yaml", actor=Principal.system("cli:bench"))
    for username, delegation, roles in (("sy.analyst", "SY", ["analyst"]), ("us.mediator", "US", ["mediator"]),
                                        ("il.liaison", "IL", ["liaison"])):  # fmt: skip
        with cell.command() as uow:
            auth.add_user(cell=cell, uow=uow, actor=Principal.system("cli:bench"), username=username,
                          delegation=delegation, roles=roles, password=PASSWORD)  # fmt: skip
    port = free_port()
    env = {**os.environ, "FUSIONCELL_DATA": str(settings.data), "FUSIONCELL_SCHEDULER_ENABLED": "false",
           "FUSIONCELL_LOG_LEVEL": "WARNING", "FUSIONCELL_MAX_BODY_BYTES": str(settings.max_body_bytes)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusioncell.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=open(directory / "serve.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/healthz", proc, directory / "serve.log")
    return proc, url, cell


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: see {log}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start: see {log}")


def _release_all(url: str) -> float:
    token = httpx.post(f"{url}/api/v1/auth/token", json={"username": "us.mediator", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        items = client.get("/api/v1/intel/items?state=submitted&limit=500").json()["items"]
        count = sum(i["object_count"] for i in items)
        t = time.perf_counter()
        for item in items:
            r = client.post(f"/api/v1/intel/items/{item['id']}/release", json={"audience": "joint"})
            r.raise_for_status()
        return count / (time.perf_counter() - t)


def run_fusioncell(directory: Path, count: int, label: str) -> dict[str, Any]:
    from taxii2client.v21 import ApiRoot

    proc, url, cell = _fusioncell(directory)
    try:
        root = ApiRoot(f"{url}/taxii2/cell/", user="sy.analyst", password=PASSWORD)
        submissions = next(c for c in root.collections if c.title == "SY submissions")
        objects = stix_objects(count)
        result: dict[str, Any] = {"objects": count}
        result["ingest_per_s"] = round(ingest(submissions, objects, f"fusioncell {label}: add_objects"))
        result["release_per_s"] = round(_release_all(url))
        reader = ApiRoot(f"{url}/taxii2/cell/", user="il.liaison", password=PASSWORD)
        joint = next(c for c in reader.collections if c.title == "Joint")
        # the mediator's identity object comes with the first release
        result["paging"] = page_through(joint, count, f"fusioncell {label}: as_pages")
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        cell.db.dispose()


# -- medallion -------------------------------------------------------------------------------------------------


def run_medallion(directory: Path, count: int) -> dict[str, Any]:
    from taxii2client.v21 import ApiRoot

    port = free_port()
    collection_id = str(uuid.uuid4())
    data = {
        "/discovery": {"title": "medallion (bench)", "description": "", "contact": "",
                       "default": f"http://127.0.0.1:{port}/api1/", "api_roots": [f"http://127.0.0.1:{port}/api1/"]},
        "api1": {
            "information": {"title": "api1", "description": "", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 100_000_000},
            "status": [],
            "collections": [{"id": collection_id, "title": "bench", "description": "", "can_read": True,
                             "can_write": True, "media_types": ["application/stix+json;version=2.1"],
                             "objects": [], "manifest": []}],
        },
    }  # fmt: skip
    (directory / "medallion-data.json").write_text(json.dumps(data))
    config = {
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(directory / "medallion-data.json")},
        "users": {"bench": PASSWORD},
        "taxii": {"max_page_size": PAGE},
    }  # fmt: skip
    (directory / "medallion.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "medallion.scripts.run", "--port", str(port), str(directory / "medallion.json")],
        stdout=subprocess.DEVNULL, stderr=open(directory / "medallion.log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    try:
        _wait(f"http://127.0.0.1:{port}/taxii2/", proc, directory / "medallion.log")
        root = ApiRoot(f"http://127.0.0.1:{port}/api1/", user="bench", password=PASSWORD)
        collection = root.collections[0]
        objects = stix_objects(count)
        result: dict[str, Any] = {"objects": count}
        result["ingest_per_s"] = round(ingest(collection, objects, "medallion: add_objects"))
        result["paging"] = page_through(collection, count, "medallion: as_pages")
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- the run -----------------------------------------------------------------------------------------------------


def limit_stix2_parse(n: int = 2_000) -> float:
    """Objects a second the stix2 library parses on one core: the checking cost fusioncell must beat."""
    import stix2

    objects = stix_objects(n, seed=3)
    t = time.perf_counter()
    for obj in objects:
        stix2.parse(obj, allow_custom=False, version="2.1")
    return n / (time.perf_counter() - t)


def run_intel(*, quick: bool, output: Path | None = None) -> int:
    small, large = (2_000, 10_000) if quick else (10_000, 100_000)
    started = time.perf_counter()
    directory = Path(tempfile.mkdtemp(prefix="fusioncell-intel-bench-"))
    results: dict[str, Any] = {
        "benchmark": "intel",
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "envelope": ENVELOPE,
        "page": PAGE,
    }
    console.print(f"[bold]Intelligence benchmark[/] ({results['mode']}) — work directory {directory}")
    status = 0
    try:
        results["limits"] = {"stix2_parse_per_s_one_core": round(limit_stix2_parse())}
        console.print(f"    stix2 parses {results['limits']['stix2_parse_per_s_one_core']:,} objects/s on one core")
        results["medallion"] = run_medallion(directory / "m", small) if (directory / "m").mkdir() is None else {}
        results["fusioncell"] = (
            run_fusioncell(directory / "f", small, f"{small:,}") if (directory / "f").mkdir() is None else {}
        )
        results["fusioncell_large"] = (
            run_fusioncell(directory / "l", large, f"{large:,}") if (directory / "l").mkdir() is None else {}
        )
    except Exception as exc:
        console.print(f"[red]intel benchmark failed:[/] {exc}")
        results["error"] = f"{exc.__class__.__name__}: {exc}"
        status = 1
    finally:
        results["seconds"] = round(time.perf_counter() - started, 1)
        shutil.rmtree(directory, ignore_errors=True)
    if "error" not in results:
        status |= report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = output or RESULTS / ("intel-quick.json" if quick else "intel.json")
    path.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"results: {path}")
    return status


def report(results: dict[str, Any]) -> int:
    f, m, big = results["fusioncell"], results["medallion"], results["fusioncell_large"]
    table = Table(title=f"TAXII 2.1 with taxii2-client: fusioncell vs medallion ({f['objects']:,} objects)")
    for column in ("", "fusioncell", "medallion", "ratio", "target", "met"):
        table.add_column(column, justify="right" if column else "left")
    ingest_ratio = f["ingest_per_s"] / m["ingest_per_s"]
    paging_ratio = f["paging"]["objects_per_s"] / m["paging"]["objects_per_s"]
    rows = [
        ("ingest, objects/s", f["ingest_per_s"], m["ingest_per_s"], ingest_ratio,
         f"≥ {TARGET_INGEST:,.0f}/s and ≥ {TARGET_VS_MEDALLION_INGEST}×",
         f["ingest_per_s"] >= TARGET_INGEST and ingest_ratio >= TARGET_VS_MEDALLION_INGEST),
        ("paging, objects/s", f["paging"]["objects_per_s"], m["paging"]["objects_per_s"], paging_ratio,
         f"≥ {TARGET_PAGING:,.0f}/s and ≥ {TARGET_VS_MEDALLION_PAGING}×",
         f["paging"]["objects_per_s"] >= TARGET_PAGING and paging_ratio >= TARGET_VS_MEDALLION_PAGING),
        ("page p99, ms", f["paging"]["page_p99_ms"], m["paging"]["page_p99_ms"], None, "", None),
    ]  # fmt: skip
    ok = True
    for name, ours, theirs, ratio, target, met in rows:
        ok &= met is not False
        table.add_row(
            name, f"{ours:,}", f"{theirs:,}", f"{ratio:.1f}×" if ratio else "", target,
            "" if met is None else ("yes" if met else "[red]no[/]"),
        )  # fmt: skip
    console.print(table)
    large = Table(title=f"fusioncell at {big['objects']:,} objects")
    for column in ("", "fusioncell", "target", "met"):
        large.add_column(column, justify="right" if column else "left")
    met_ingest = big["ingest_per_s"] >= TARGET_INGEST
    met_paging = big["paging"]["objects_per_s"] >= TARGET_PAGING
    met_p99 = big["paging"]["page_p99_ms"] <= TARGET_PAGE_P99_MS
    large.add_row(
        "ingest, objects/s",
        f"{big['ingest_per_s']:,}",
        f"≥ {TARGET_INGEST:,.0f}",
        "yes" if met_ingest else "[red]no[/]",
    )
    large.add_row("release, objects/s", f"{big['release_per_s']:,}", "", "")
    large.add_row("paging, objects/s", f"{big['paging']['objects_per_s']:,}", f"≥ {TARGET_PAGING:,.0f}",
                  "yes" if met_paging else "[red]no[/]")  # fmt: skip
    large.add_row("page p99, ms", f"{big['paging']['page_p99_ms']}", f"≤ {TARGET_PAGE_P99_MS:.0f}",
                  "yes" if met_p99 else "[red]no[/]")  # fmt: skip
    console.print(large)
    console.print(f"stix2 alone parses {results['limits']['stix2_parse_per_s_one_core']:,} objects/s on one core")
    ok &= met_ingest and met_paging and met_p99
    return 0 if ok else 1
