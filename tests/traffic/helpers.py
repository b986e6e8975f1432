"""Helpers for traffic tests: drafts and a stream reader with deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def draft(**overrides: Any) -> dict[str, Any]:
    body = {
        "track": "de-escalation",
        "audience": "joint",
        "precedence": "FLASH",
        "marker": "WARNING",
        "subject": "Convoy movement near the area of separation",
        "body": "Four vehicles will cross the buffer zone at grid 37S BU 123 456 at 0600Z. Do not engage.",
        "lang": "en",
    }
    body.update(overrides)
    return body


class StreamReader:
    """Read frames from a TestClient WebSocket until a condition holds, relying on heartbeats to never block."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        hello = ws.receive_json()
        assert hello["type"] == "hello", hello
        self.hello = hello

    def until(self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not condition(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"stream condition not met in {timeout}s; events: {[e['action'] for e in self.events]}"
                )
            frame = self.ws.receive_json()
            self.frames.append(frame)
            if frame["type"] == "event":
                self.events.append(frame)
            elif frame["type"] == "error":
                raise AssertionError(f"stream error: {frame}")
        return self.events

    def replay(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Read the replay up to the 'live' frame (the server has sent everything up to now)."""
        deadline = time.monotonic() + timeout
        while not any(f["type"] == "live" for f in self.frames):
            if time.monotonic() > deadline:
                raise AssertionError("no 'live' frame")
            frame = self.ws.receive_json()
            self.frames.append(frame)
            if frame["type"] == "event":
                self.events.append(frame)
        return self.events

    def quiet_for(self, heartbeats: int = 2) -> list[dict[str, Any]]:
        """Read until `heartbeats` heartbeats pass with whatever events arrive meanwhile."""
        seen = 0
        while seen < heartbeats:
            frame = self.ws.receive_json()
            self.frames.append(frame)
            if frame["type"] == "heartbeat":
                seen += 1
            elif frame["type"] == "event":
                self.events.append(frame)
        return self.events

    def actions(self) -> list[str]:
        return [e["action"] for e in self.events]
