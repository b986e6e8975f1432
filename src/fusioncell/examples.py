"""The one night the API documentation tells, in the words of the example charter (charters/paris-2026.yaml).

At 0548Z on 2 March 2026 Syria's liaison officer warns the cell that four vehicles will cross the buffer zone at
0600Z; Israel's liaison officer reads it back with the wrong time, Syria says so, and the mediator is alerted.
Syria's analyst shares the drones' control uplink as STIX, the mediator releases it without its source, and
Israel's analyst reports a sighting of it. Every example in the OpenAPI document comes from here, so field
examples and whole-body examples tell the same story, and the request examples are ones the cell accepts
(tests/test_api_docs.py sends each as the member it is meant for). Pure data: no imports from the app.
"""

from __future__ import annotations

import hashlib
from typing import Any

# -- people (usernames as `make run` creates them) and delegations --------------------------------------------
SY_LIAISON = "sy.liaison"
IL_LIAISON = "il.liaison"
US_MEDIATOR = "us.mediator"
SY_ANALYST = "sy.analyst"
IL_ANALYST = "il.analyst"
PASSWORD = "harbour-cedar-lantern-58"  # a passphrase of the kind the cell's officers are given
OTP = "492817"
ACCESS_TOKEN = "fct_bv-lhxDsJtcbX1EbZ82Q4xOapLMhHutVMwAsIFY6w-g"
TOKEN_EXPIRES_AT = "2026-03-02T17:40:00Z"
TOKEN_EXPIRES_IN = 43200  # FUSIONCELL_TOKEN_TTL's default, 12 hours

# -- the FLASH warning and its closed loop ---------------------------------------------------------------------
MESSAGE_ID = 194672045
MESSAGE_INDEX = 1843
SENT_AT = "2026-03-02T05:48:12Z"
ACK_DUE_AT = "2026-03-02T05:58:12Z"  # FLASH: 10 minutes
DELIVERED_AT = "2026-03-02T05:48:13Z"
ACKNOWLEDGED_AT = "2026-03-02T05:51:40Z"
VERDICT_AT = "2026-03-02T05:53:05Z"
CLIENT_TXN_ID = "sy-0302-0548-flash-1"
SUBJECT = "Four vehicles crossing the buffer zone at 0600Z"
BODY = (
    "Four logistics vehicles, escorted and unarmed, will cross the buffer zone near Quneitra at 0600Z, heading "
    "east. Request de-confliction with patrols on the Alpha line."
)
SUBJECT_AR = "أربع مركبات تعبر المنطقة العازلة عند 0600Z"
BODY_AR = (
    "أربع مركبات لوجستية، مرافَقة وغير مسلحة، ستعبر المنطقة العازلة قرب القنيطرة عند 0600Z متجهة شرقاً. "
    "نطلب منع التصادم مع الدوريات على خط ألفا."
)
READBACK = (
    "Four logistics vehicles, escorted and unarmed, cross the buffer zone near Quneitra at 0600Z heading east; "
    "you ask for de-confliction with patrols on the Alpha line."
)
WRONG_READBACK = "Four logistics vehicles, escorted and unarmed, cross the buffer zone near Quneitra at 0700Z."
NOTE = "0600Z, not 0700Z: the vehicles cross at 0600Z. Read it back again."
CLARIFICATION_ID = 11133950
ALERT_ID = 1044851261
SHIFT_ID = 1387752190
ALERT_INDEX = 1846
ALERT_SUMMARY = f"SY rejected IL's read-back of FLASH '{SUBJECT}': {NOTE}"

SEND_FLASH_WARNING: dict[str, Any] = {
    "track": "de-escalation",
    "audience": "joint",
    "precedence": "FLASH",
    "marker": "WARNING",
    "subject": SUBJECT,
    "body": BODY,
    "lang": "en",
    "translations": {"ar": {"subject": SUBJECT_AR, "body": BODY_AR}},
    "readback_required": True,
    "client_txn_id": CLIENT_TXN_ID,
}
SEND_MEDIATED_REQUEST: dict[str, Any] = {
    "track": "diplomatic",
    "audience": "mediated:SY",
    "precedence": "ROUTINE",
    "marker": "REQUEST",
    "subject": "Withdrawal timeline for the next round",
    "body": "Damascus asks the mediator to table a clear and binding timeline for withdrawal as the first item of "
    "the next round.",
    "lang": "en",
}

# -- the ledger ---------------------------------------------------------------------------------------------
LOG_ORIGIN = "fusioncell.example/paris-2026"
LEDGER_SIZE = 1847
MESSAGE_SUBJECT = f"message:{MESSAGE_ID}"
SALT = "4d0e9bf8df85618c66bebe5b8024fcc54d023175ba45c118f74dad2d17937487"
# the committed content of the FLASH warning's delivery receipt (RFC 8785), as GET .../content reveals it
DELIVERY_CONTENT = (
    '{"@action":"message.delivered","@actor_delegation":"IL","@subject":"message:194672045","actor":"il.liaison",'
    '"delegation":"IL","deliveries":[{"delivered_at":"2026-03-02T05:48:13Z","delivered_to":"il.liaison",'
    '"message_id":194672045}]}'
)
DELIVERY_INDEX = 1844
COMMITMENT = hashlib.sha256(bytes.fromhex(SALT) + DELIVERY_CONTENT.encode()).hexdigest()  # it checks out
ROOT = "hCDNUHWRPS6N4+TOxS80FWsECOTvIeyNHODfTYuHcQM="
LEAF_HASH = "0P/fgM9uchxvyZFPn5EOud1uU6PXM7leUoyOXoW9rz0="
PROOF_HASHES = [
    "15sw8HAQ9BiekoNgzVW5KMBxdnMuBgIQb+kYkC/KcMc=",
    "5FSXYuJ+CaeiDrPn2mv+rRiPuxs48jzTsxJDlAojf4Y=",
    "WlNwaZu5BEZ7eHCP+Y+bTEnkHsBxpI2jnEPrFtnnFOw=",
]
LOG_KEY = f"{LOG_ORIGIN}+059f3dc0+AZ5inJvACWNY76GYWjwfQciPjQL9HZ7KfCeiZbA9k3Mv"
WITNESS_NAME = "witness.sy.example"
WITNESS_KEY = f"{WITNESS_NAME}+7c2b4a19+BCo5O8dqAYYbYjZ1bXyB7k8M5wQYfQ6YgJq1b0n8yH3k"
COSIGNED_AT = 1772430496  # 2026-03-02T05:48:16Z
CHECKPOINT_NOTE = (
    f"{LOG_ORIGIN}\n{LEDGER_SIZE}\n{ROOT}\n"
    "fusioncell-map wCIECvPuFo4fOAEC9ZRqGTsf7d61rCVSCmrQJZ9YPtA=\n\n"
    f"— {LOG_ORIGIN} BZ89wN1E2nO1YiuCEgdsk0T4SQ0VcAqO+zJLXsQfrXKtWQUasB2+JHmESNY/j6NhKEov5piRr8ZgKxxOXKWL687slQ8=\n"
)

# -- intelligence -------------------------------------------------------------------------------------------
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"  # TLP 2.0, fixed by FIRST
INDICATOR_ID = "indicator--8e2e2d2b-17d4-4cbe-9f3a-1b4f4c6a7d52"
INDICATOR: dict[str, Any] = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": INDICATOR_ID,
    "created": "2026-03-02T05:20:00.000Z",
    "modified": "2026-03-02T05:20:00.000Z",
    "name": "Drone control uplink near Quneitra",
    "description": "Seen by observation post OP-7 at 0410Z: the uplink of the drones flying over the buffer zone.",
    "indicator_types": ["malicious-activity"],
    "pattern": "[ipv4-addr:value = '198.51.100.7']",
    "pattern_type": "stix",
    "valid_from": "2026-03-02T04:10:00Z",
    "object_marking_refs": [TLP_GREEN],
}
BUNDLE: dict[str, Any] = {
    "type": "bundle",
    "id": "bundle--5d0c7c0e-8f0e-4a53-9d7e-2c1f4b7e3a90",
    "objects": [INDICATOR],
}
RELAY_INDICATOR: dict[str, Any] = {  # a draft the analyst is still working on
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--3b9f6c41-0d2a-4f7e-8c55-6a1e9d2b7f08",
    "created": "2026-03-02T05:35:00.000Z",
    "modified": "2026-03-02T05:35:00.000Z",
    "name": "Relay for the drone control uplink",
    "pattern": "[ipv4-addr:value = '198.51.100.23']",
    "pattern_type": "stix",
    "valid_from": "2026-03-02T05:30:00Z",
    "object_marking_refs": [TLP_GREEN],
}
REDACTED_NAME = "Drone control uplink near Quneitra (source withheld)"
REDACTION: dict[str, Any] = {"id": INDICATOR_ID, "remove": ["description"], "replace": {"name": REDACTED_NAME}}
INTEL_ITEM_ID = 1736002418
INTEL_INDEX = 1839
SUBMITTED_AT = "2026-03-02T05:22:40Z"
DECIDED_AT = "2026-03-02T05:41:09Z"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
# the indicator as Israel receives it: released to `joint` as TLP:AMBER, without the observation post
RELEASED_INDICATOR: dict[str, Any] = {
    **{key: value for key, value in INDICATOR.items() if key != "description"},
    "modified": "2026-03-02T05:41:09.000Z",
    "name": REDACTED_NAME,
    "object_marking_refs": [TLP_AMBER],
}
RELEASE_ID = "0b7d1e52-93a4-4c1f-a0de-6f2b8c3e5d71"
SIGHTING: dict[str, Any] = {
    "sighting_of": INDICATOR_ID,
    "count": 2,
    "first_seen": "2026-03-02T04:12:00Z",
    "last_seen": "2026-03-02T05:31:00Z",
    "description": "Two transmissions from 198.51.100.7, picked up from our side of the Alpha line.",
}
DECLINE_REASON = "The report names no time for the first transmission: resubmit it with OP-7's log entry."
REVOKE_REASON = "UNDOF found at 0730Z that 198.51.100.7 is a civilian relay: the indicator is withdrawn."
PAGE_TOKEN = "Af8Cv2BCg8C68G6GdLplL0lCjVZMxbmkymKN59N4cw_pINQeCw"  # sealed: only its reader can use it
