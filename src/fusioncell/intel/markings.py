"""Traffic Light Protocol markings on STIX objects (pure: no I/O).

TLP 2.0 (FIRST, 2022) has five levels; STIX carries each as a marking-definition with a fixed id. TLP 1.0's four
definitions from the STIX 2.1 specification are read as their 2.0 counterparts (WHITE as CLEAR). An object's
level is the most restrictive TLP marking it carries; the mediator may keep or raise it, never lower it.
"""

from __future__ import annotations

from enum import IntEnum


class Tlp(IntEnum):
    """Ordered from least to most restrictive: a release may not go down this list."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "TLP:" + self.name.replace("_", "+")

    @property
    def marking_id(self) -> str:
        return TLP2_IDS[self]

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """'amber+strict', 'TLP:AMBER+STRICT', 'white' (TLP 1.0) ..."""
        key = text.strip().upper().removeprefix("TLP:").replace("+", "_")
        if key == "WHITE":
            return cls.CLEAR
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"{text!r} is not a TLP level: clear, green, amber, amber+strict or red") from None


TLP2_IDS = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1_IDS = {
    Tlp.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # TLP:WHITE
    Tlp.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    Tlp.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    Tlp.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
LEVEL_OF_ID = {marking: level for table in (TLP2_IDS, TLP1_IDS) for level, marking in table.items()}


def tlp_of(obj: dict) -> Tlp | None:
    """The most restrictive TLP marking on an object (object-level or granular), or None if it has none."""
    refs = list(obj.get("object_marking_refs") or [])
    refs += [g.get("marking_ref") for g in obj.get("granular_markings") or [] if isinstance(g, dict)]
    levels = [LEVEL_OF_ID[r] for r in refs if isinstance(r, str) and r in LEVEL_OF_ID]
    return max(levels) if levels else None


def with_tlp(obj: dict, level: Tlp) -> dict:
    """The object marked `level` at object level: its other TLP markings removed, non-TLP markings kept."""
    others = [r for r in obj.get("object_marking_refs") or [] if r not in LEVEL_OF_ID]
    return {**obj, "object_marking_refs": [*others, level.marking_id]}
