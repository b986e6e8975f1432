"""GeoJSON (RFC 7946) in, shapely out, with the reason for every refusal; and the theatre's metric projection.

Pure: no database, no clock. Positions are `[longitude, latitude]` in WGS 84 (RFC 7946 §3.1.1). A geometry is
refused, with the path of the offending member and the reason, when it is empty, has a position out of range (with a
hint when the two numbers look swapped), an unclosed or too short ring, more vertices than the limit, or is invalid
in the OGC sense (shapely's reason: "Self-intersection[35.8 33.1]", "Ring Self-intersection", …).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

ACTIVITY_TYPES = ("Point", "LineString", "Polygon")
ZONE_TYPES = ("Polygon", "MultiPolygon")
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
MAX_ACTIVITY_VERTICES = 2_000
MAX_ZONE_VERTICES = 20_000
MAX_SCALE_ERROR = 0.001  # 0.1 %: a theatre's projection may stretch or shrink distances by no more anywhere in it


class GeometryError(ValueError):
    """A refused geometry: `path` names the member (`coordinates[0][3]`), the message says why."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.reason = message
        self.path = path


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GeometryError("a coordinate must be a number", path)
    try:
        number = float(value)
    except OverflowError:
        raise GeometryError("a coordinate is out of range", path) from None
    if not math.isfinite(number):
        raise GeometryError("a coordinate must be finite", path)
    return number


def _position(value: Any, path: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple):
        raise GeometryError("a position is [longitude, latitude]", path)
    if len(value) != 2:
        if len(value) == 3:
            raise GeometryError(
                "a position is [longitude, latitude]: give heights in the altitude band, not as a third number", path
            )
        raise GeometryError(f"a position is [longitude, latitude], not {len(value)} numbers", path)
    lon, lat = _number(value[0], path + "[0]"), _number(value[1], path + "[1]")
    if not -90 <= lat <= 90:
        hint = " — the numbers look swapped: RFC 7946 puts longitude first" if -90 <= lon <= 90 else ""
        raise GeometryError(f"latitude {lat:g} is out of range [-90, 90]{hint}", path + "[1]")
    if not -180 <= lon <= 180:
        raise GeometryError(f"longitude {lon:g} is out of range [-180, 180]", path + "[0]")
    return lon, lat


def _positions(value: Any, path: str, *, at_least: int, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise GeometryError(f"{what} is a list of positions", path)
    if not value:
        raise GeometryError(f"{what} is empty", path)
    points = [_position(p, f"{path}[{i}]") for i, p in enumerate(value)]
    if len(points) < at_least:
        raise GeometryError(f"{what} needs at least {at_least} positions, not {len(points)}", path)
    return points


def _ring(value: Any, path: str) -> list[tuple[float, float]]:
    ring = _positions(value, path, at_least=4, what="a linear ring")
    if ring[0] != ring[-1]:
        raise GeometryError("the ring is not closed: its last position must repeat its first", path)
    if len(set(ring)) < 3:
        raise GeometryError("the ring encloses no area: it needs three distinct positions", path)
    return ring


def _polygon(value: Any, path: str) -> list[list[tuple[float, float]]]:
    if not isinstance(value, list | tuple):
        raise GeometryError("a polygon is a list of linear rings", path)
    if not value:
        raise GeometryError("the polygon is empty", path)
    return [_ring(r, f"{path}[{i}]") for i, r in enumerate(value)]


def _list(value: Any, path: str, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise GeometryError(f"{what} must be a list", path)
    if not value:
        raise GeometryError(f"{what} is empty", path)
    return list(value)


def parse(obj: Any, *, allowed: Sequence[str], max_vertices: int, path: str = "") -> BaseGeometry:
    """A GeoJSON geometry object as a valid shapely geometry in longitude/latitude, or GeometryError."""
    p = lambda member: f"{path}.{member}" if path else member  # noqa: E731 - a name for the paths below
    if not isinstance(obj, dict):
        raise GeometryError("a geometry is a GeoJSON object with 'type' and 'coordinates'", path)
    kind = obj.get("type")
    if kind not in GEOMETRY_TYPES:
        raise GeometryError(f"unknown geometry type {kind!r}: one of {', '.join(allowed)}", p("type"))
    if kind not in allowed:
        raise GeometryError(f"a {kind} is not accepted here: one of {', '.join(allowed)}", p("type"))
    extra = sorted(set(obj) - {"type", "coordinates", "bbox"})
    if extra:
        raise GeometryError(f"unexpected member(s) {', '.join(extra)}", path)
    if "coordinates" not in obj:
        raise GeometryError("missing 'coordinates'", path)
    coords, at = obj["coordinates"], p("coordinates")
    if kind == "Point":
        geom: BaseGeometry = shapely.Point(_position(coords, at))
    elif kind == "MultiPoint":
        geom = shapely.MultiPoint(_positions(coords, at, at_least=1, what="a multipoint"))
    elif kind == "LineString":
        line = _positions(coords, at, at_least=2, what="a line")
        if len(set(line)) < 2:
            raise GeometryError("the line has no length: it needs two distinct positions", at)
        geom = shapely.LineString(line)
    elif kind == "MultiLineString":
        lines = [
            _positions(c, f"{at}[{i}]", at_least=2, what="a line")
            for i, c in enumerate(_list(coords, at, "a multiline"))
        ]
        geom = shapely.MultiLineString(lines)
    elif kind == "Polygon":
        rings = _polygon(coords, at)
        geom = shapely.Polygon(rings[0], rings[1:])
    else:
        parts = [_polygon(c, f"{at}[{i}]") for i, c in enumerate(_list(coords, at, "a multipolygon"))]
        geom = shapely.MultiPolygon([(rings[0], rings[1:]) for rings in parts])
    vertices = shapely.get_num_coordinates(geom)
    if vertices > max_vertices:
        raise GeometryError(f"{vertices} positions: at most {max_vertices} are accepted", at)
    if not shapely.is_valid(geom):
        raise GeometryError(f"invalid geometry: {shapely.is_valid_reason(geom)}", at)
    return geom


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A shapely geometry (longitude/latitude) as a GeoJSON geometry object."""
    return shapely.geometry.mapping(geom)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Projection:
    """A theatre's metric projection: where distances are measured, exactly, in metres."""

    definition: str

    @cached_property
    def crs(self) -> CRS:
        return CRS.from_user_input(self.definition)

    @cached_property
    def _forward(self) -> Transformer:
        return Transformer.from_crs(CRS.from_epsg(4326), self.crs, always_xy=True)

    @cached_property
    def _inverse(self) -> Transformer:
        return Transformer.from_crs(self.crs, CRS.from_epsg(4326), always_xy=True)

    def problem(self) -> str | None:
        """Why this cannot measure distances, or None: it must be a projected CRS in metres, never Web Mercator."""
        try:
            crs = self.crs
        except CRSError as exc:
            return f"not a coordinate reference system pyproj knows: {exc}"
        if not crs.is_projected:
            return "not a projected CRS: distances need a metric projection (say a transverse Mercator on the theatre)"
        units = {axis.unit_name for axis in crs.axis_info}
        if units != {"metre"}:
            return f"its axes are in {', '.join(sorted(units))}, not metres"
        method = (crs.coordinate_operation.method_name if crs.coordinate_operation else "").lower()
        if "pseudo" in method or "popular visualisation" in method or crs.to_epsg() in (3857, 900913, 3785):
            return "Web Mercator stretches distances by 1/cos(latitude): name a metric projection made for the theatre"
        return None

    def scale_error(self, lons: Iterable[float], lats: Iterable[float]) -> float:
        """The largest relative error of a short distance measured in this projection at these places (the
        meridian and parallel scale factors' distance from 1)."""
        from pyproj import Proj

        factors = Proj(self.crs).get_factors(list(lons), list(lats))
        scales = np.concatenate([np.atleast_1d(factors.meridional_scale), np.atleast_1d(factors.parallel_scale)])
        return float(np.max(np.abs(scales - 1.0)))

    def project(self, geoms: Any) -> Any:
        """Longitude/latitude → metres in this projection: one geometry, or an array of them, every vertex at once."""
        return shapely.transform(geoms, _through(self._forward))

    def unproject(self, geoms: Any) -> Any:
        """Metres in this projection → longitude/latitude."""
        return shapely.transform(geoms, _through(self._inverse))


def _through(transformer: Transformer) -> Any:
    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return move
