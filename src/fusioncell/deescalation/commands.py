"""`fusioncell export`: the map as GeoJSON or KML, exactly what the logged-in person may see (fetched from the cell
with their token, so the server's `policy` decides)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fusioncell.client import ClientError


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        format: Annotated[str, typer.Option("--format", "-f", help="geojson (GIS) or kml (Google Earth).")] = "geojson",
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="The file to write (default: standard output).")
        ] = None,
        at: Annotated[str | None, typer.Option("--at", help="Zones as in force at this instant (ISO 8601).")] = None,
    ) -> None:
        """Export the map (zones, activities, conflicts, incidents) you may see, for a GIS or Google Earth."""
        from fusioncell.cliutil import err
        from fusioncell.terminal import _api, _fail

        kind = format.strip().lower()
        if kind not in ("geojson", "kml"):
            _fail(f"unknown format {format!r}: use --format geojson or --format kml")
        if out is not None and out.is_dir():
            _fail(f"{out} is a directory: give a file name, e.g. --out {out / ('map.' + kind)}")
        api, creds = _api()
        params = {"format": kind} | ({"at": at} if at else {})
        with err.status(f"Fetching the map from {creds.server}…"):
            try:
                response = api.request("GET", "/api/v1/map/export", params=params)
            except ClientError as exc:
                _fail(str(exc))
        if out is None:
            sys.stdout.buffer.write(response.content)
            return
        try:
            out.write_bytes(response.content)
        except OSError as exc:
            _fail(f"cannot write {out}: {exc.strerror}")
        count = response.content.count(b'"Feature"') if kind == "geojson" else response.content.count(b"<Placemark")
        err.print(f"Wrote {count} features to {out} ({len(response.content):,} bytes, {kind}) as {creds.username}.")
