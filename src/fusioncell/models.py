"""Every table, imported once so the metadata (and Alembic) sees the whole schema."""

from fusioncell.agreements.models import (
    Agreement,
    AgreementSignature,
    AgreementVersion,
    Attestation,
    AttestationEvidence,
    Milestone,
)
from fusioncell.auth.models import AccessToken, LoginAttempt, TokenRevocations, User
from fusioncell.db import Base
from fusioncell.deescalation.models import (
    Activity,
    ActivityConflict,
    ActivityVersion,
    EvidenceFile,
    Incident,
    ZoneVersion,
)
from fusioncell.disputes.models import Dispute, DisputeEvidence, DisputeStatement
from fusioncell.intel.models import IntelItem, IntelObject, IntelOwner, IntelStatus, IntelVersion
from fusioncell.ledger.models import (
    LedgerCheckpoint,
    LedgerCosignature,
    LedgerEntry,
    LedgerHead,
    LedgerMapValue,
    LedgerNode,
)
from fusioncell.scheduler.models import Job
from fusioncell.signing.models import SigningKey
from fusioncell.traffic.models import Alert, Clarification, Delivery, Message

metadata = Base.metadata

__all__ = [
    "AccessToken",
    "Agreement",
    "AgreementSignature",
    "AgreementVersion",
    "Attestation",
    "AttestationEvidence",
    "Activity",
    "ActivityConflict",
    "ActivityVersion",
    "Alert",
    "Clarification",
    "EvidenceFile",
    "Incident",
    "Delivery",
    "Dispute",
    "DisputeEvidence",
    "DisputeStatement",
    "IntelItem",
    "IntelObject",
    "IntelStatus",
    "IntelOwner",
    "IntelVersion",
    "Job",
    "LedgerCheckpoint",
    "LedgerCosignature",
    "LedgerEntry",
    "LedgerHead",
    "LedgerMapValue",
    "LedgerNode",
    "LoginAttempt",
    "Message",
    "Milestone",
    "SigningKey",
    "TokenRevocations",
    "User",
    "ZoneVersion",
    "metadata",
]
