"""Exports of the map for GIS users and Google Earth: the zones, the activities, their conflicts and the incidents,
exactly as the requesting person may see them (the same service queries as the API, so the same `policy`), as
GeoJSON (RFC 7946) or KML 2.2."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

import shapely

from fusioncell.cell import Cell
from fusioncell.deescalation import geometry, incidents, service, zones
from fusioncell.policy import Principal

KML_NS = "http://www.opengis.net/kml/2.2"
LAYERS = ("zones", "activities", "conflicts", "incidents")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _conflict_place(cell: Cell, activity: Any, conflict: dict[str, Any], others: dict[int, Any]) -> dict[str, Any]:
    """Where a conflict is: for an overlap the reader may see, the shortest line between the two activities; else
    the activity's own geometry (a withheld plan gives away no place)."""
    other = others.get(conflict.get("other_activity") or 0)
    if other is None:
        return activity.geometry
    theatre = next(t for t in cell.charter.deescalation.theatres if t.id == activity.theatre)
    a, b = shapely.from_wkb(activity.projected), shapely.from_wkb(other.projected)
    line = shapely.shortest_line(a, b)
    if line.length == 0:
        return geometry.to_geojson(theatre.projection_.unproject(shapely.get_point(line, 0)))
    return geometry.to_geojson(theatre.projection_.unproject(line))


def features(cell: Cell, principal: Principal, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """Every feature the principal may see, each with `layer` among its properties."""
    out: list[dict[str, Any]] = []
    for state in zones.list_zones(cell=cell, principal=principal, at=at, every_version=False):
        z = state.zone
        out.append(
            {
                "type": "Feature",
                "id": f"zone:{z.id}@{state.version}",
                "geometry": z.geometry,
                "properties": {
                    "layer": "zones",
                    "zone": z.id,
                    "version": state.version,
                    "kind": z.kind.value,
                    "status": state.status,
                    "name": z.names.get("en", z.id),
                    "names": dict(z.names),
                    "approximate": z.approximate,
                    "valid_from": _iso(z.valid_from),
                    "valid_until": _iso(z.valid_until),
                    "rules": z.rules.model_dump(mode="json"),
                },
            }
        )
    activities = service.list_activities(cell=cell, principal=principal, limit=100_000)
    by_id = {a.id: a for a in activities}
    now = cell.clock.now()
    for a in activities:
        out.append(
            {
                "type": "Feature",
                "id": f"activity:{a.id}@{a.version}",
                "geometry": a.geometry,
                "properties": {
                    "layer": "activities",
                    "activity": a.id,
                    "version": a.version,
                    "delegation": a.delegation,
                    "audience": a.audience,
                    "state": service.state_of(a, now),
                    "activity_type": a.activity_type,
                    "description": a.description,
                    "radius_m": a.radius_m,
                    "lower_m": a.lower_m,
                    "upper_m": a.upper_m,
                    "datum": a.datum,
                    "start": _iso(a.start_at),
                    "end": _iso(a.live_until),
                    "forces": dict(a.forces),
                    "short_notice": a.short_notice,
                },
            }
        )
    for a in activities:
        for c in service.conflicts(cell=cell, principal=principal, activity_id=a.id, current_only=True):
            if c.get("activity") != a.id:
                continue  # found on the other activity: listed there
            out.append(
                {
                    "type": "Feature",
                    "id": f"conflict:{a.id}@{a.version}:{c['ref']}",
                    "geometry": _conflict_place(cell, a, c, by_id),
                    "properties": {
                        "layer": "conflicts",
                        "activity": a.id,
                        "version": a.version,
                        "kind": c["kind"],
                        "rule": c["rule"],
                        "ref": c["ref"],
                        "summary": c["summary"],
                        "other_activity": c.get("other_activity"),
                        "zone": c.get("zone"),
                    },
                }
            )
    for i in incidents.list_incidents(cell=cell, principal=principal, limit=100_000):
        out.append(
            {
                "type": "Feature",
                "id": f"incident:{i.id}",
                "geometry": i.place,
                "properties": {
                    "layer": "incidents",
                    "incident": i.id,
                    "delegation": i.delegation,
                    "audience": i.audience,
                    "kind": i.kind,
                    "occurred_at": _iso(i.occurred_at),
                    "description": i.description,
                    "zone": i.zone_id,
                    "activity": i.activity_id,
                    "evidence": [e["sha256"] for e in i.evidence],
                },
            }
        )
    return out


def geojson(cell: Cell, principal: Principal, *, at: datetime | None = None) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features(cell, principal, at=at)}


# -- KML ------------------------------------------------------------------------------------------------------

STYLES = {  # KML colours are aabbggrr
    "zones": ("7f0000ff", "330000ff"),
    "activities": ("ffff7800", "40ff7800"),
    "conflicts": ("ff00a5ff", "6000a5ff"),
    "incidents": ("ff2222aa", "602222aa"),
}


def _coords(points: Any) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y in points)


def _kml_geometry(parent: ET.Element, geom: dict[str, Any]) -> None:
    kind, c = geom["type"], geom["coordinates"]
    if kind == "Point":
        ET.SubElement(ET.SubElement(parent, "Point"), "coordinates").text = _coords([c])
    elif kind == "LineString":
        ET.SubElement(ET.SubElement(parent, "LineString"), "coordinates").text = _coords(c)
    elif kind == "Polygon":
        polygon = ET.SubElement(parent, "Polygon")
        for i, ring in enumerate(c):
            boundary = ET.SubElement(polygon, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
            ET.SubElement(ET.SubElement(boundary, "LinearRing"), "coordinates").text = _coords(ring)
    else:  # Multi*
        multi = ET.SubElement(parent, "MultiGeometry")
        single = kind.removeprefix("Multi")
        for part in c:
            _kml_geometry(multi, {"type": single, "coordinates": part})


def kml(cell: Cell, principal: Principal, *, at: datetime | None = None) -> bytes:
    root = ET.Element("kml", xmlns=KML_NS)  # one default namespace: every element below is in it
    document = ET.SubElement(root, "Document")
    ET.SubElement(
        document, "name"
    ).text = f"{cell.charter.mechanism.name.get('en', 'fusioncell')} — {principal.username}"
    for layer, (line, fill) in STYLES.items():
        style = ET.SubElement(document, "Style", id=layer)
        ET.SubElement(ET.SubElement(style, "LineStyle"), "color").text = line
        ET.SubElement(ET.SubElement(style, "PolyStyle"), "color").text = fill
    folders = {layer: ET.SubElement(document, "Folder") for layer in LAYERS}
    for layer, folder in folders.items():
        ET.SubElement(folder, "name").text = layer.capitalize()
    for feature in features(cell, principal, at=at):
        props = feature["properties"]
        mark = ET.SubElement(folders[props["layer"]], "Placemark", id=feature["id"])
        ET.SubElement(mark, "name").text = props.get("name") or props.get("summary") or feature["id"]
        ET.SubElement(mark, "styleUrl").text = "#" + props["layer"]
        begin, end = props.get("start") or props.get("occurred_at"), props.get("end")
        if begin:
            span = ET.SubElement(mark, "TimeSpan")
            ET.SubElement(span, "begin").text = begin
            if end:
                ET.SubElement(span, "end").text = end
        data = ET.SubElement(mark, "ExtendedData")
        for key, value in props.items():
            if value is None or isinstance(value, dict | list):
                continue
            item = ET.SubElement(data, "Data", name=key)
            ET.SubElement(item, "value").text = str(value)
        _kml_geometry(mark, feature["geometry"])
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
