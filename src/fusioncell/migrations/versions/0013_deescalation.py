"""de-escalation: notified activities with their versions and conflicts, and proposed zone versions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Activities are pre-notified 4D volumes (geometry as GeoJSON and as WKB in the theatre's projection, radius,
altitude band, window) with a grown box for the deconfliction check's first filter; each version as notified; the
conflicts found on each version; the zone versions the mediator proposes (the charter's zones are version 1); incidents
reported with their evidence files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fusioncell.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("theatre", sa.String(length=64), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("activity_type", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("projected", sa.LargeBinary(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("lower_m", sa.Float(), nullable=False),
        sa.Column("upper_m", sa.Float(), nullable=False),
        sa.Column("datum", sa.String(length=8), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("live_until", UTCDateTime(timezone=True), nullable=False),
        sa.Column("forces", sa.JSON(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("short_notice", sa.Boolean(), nullable=False),
        sa.Column("min_x", sa.Float(), nullable=False),
        sa.Column("min_y", sa.Float(), nullable=False),
        sa.Column("max_x", sa.Float(), nullable=False),
        sa.Column("max_y", sa.Float(), nullable=False),
        sa.Column("notified_by", sa.String(length=64), nullable=False),
        sa.Column("notified_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("amended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    op.create_index(op.f("ix_activities_audience"), "activities", ["audience"], unique=False)
    op.create_index("ix_activities_ledger_index", "activities", ["ledger_index"], unique=False)
    op.create_index("ix_activities_theatre_live_until", "activities", ["theatre", "live_until"], unique=False)
    op.create_table(
        "zone_versions",
        sa.Column("zone_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted", sa.JSON(), nullable=False),
        sa.Column("in_force_from", UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("zone_id", "version", name=op.f("pk_zone_versions")),
    )
    op.create_table(
        "activity_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=160), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("zone_version", sa.Integer(), nullable=True),
        sa.Column("other_activity_id", sa.Integer(), nullable=True),
        sa.Column("other_version", sa.Integer(), nullable=True),
        sa.Column("other_delegation", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("found_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_conflicts_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_conflicts_other_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_conflicts")),
    )
    op.create_index("ix_activity_conflicts_activity", "activity_conflicts", ["activity_id", "version"], unique=False)
    op.create_index("ix_activity_conflicts_other", "activity_conflicts", ["other_activity_id"], unique=False)
    op.create_table(
        "activity_versions",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_activity_versions_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", "version", name=op.f("pk_activity_versions")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=64), nullable=False),
        sa.Column("delegation", sa.String(length=16), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("reported_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("theatre", sa.String(length=64), nullable=False),
        sa.Column("place", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_incidents_activity_id_activities"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_audience"), "incidents", ["audience"], unique=False)
    op.create_index("ix_incidents_ledger_index", "incidents", ["ledger_index"], unique=False)
    op.create_table(
        "evidence_files",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_evidence_files_incident_id_incidents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("incident_id", "sha256", name=op.f("pk_evidence_files")),
    )


def downgrade() -> None:
    op.drop_table("evidence_files")
    op.drop_index("ix_incidents_ledger_index", table_name="incidents")
    op.drop_index(op.f("ix_incidents_audience"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("activity_versions")
    op.drop_index("ix_activity_conflicts_other", table_name="activity_conflicts")
    op.drop_index("ix_activity_conflicts_activity", table_name="activity_conflicts")
    op.drop_table("activity_conflicts")
    op.drop_table("zone_versions")
    op.drop_index("ix_activities_theatre_live_until", table_name="activities")
    op.drop_index("ix_activities_ledger_index", table_name="activities")
    op.drop_index(op.f("ix_activities_audience"), table_name="activities")
    op.drop_table("activities")
