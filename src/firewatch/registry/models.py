"""Registry tables: registered models, their versions, aliases, every deployment, traffic splits
and region switches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from firewatch.store.base import Base, BigIntPK, JSONType, UTCDateTime


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active_region: Mapped[str | None] = mapped_column(String(64))
    """The region serving now (``models[].endpoints``); None: the primary, the first endpoint."""

    versions: Mapped[list[ModelVersionRow]] = relationship(
        back_populates="model", order_by="ModelVersionRow.id"
    )


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    model: Mapped[RegisteredModelRow] = relationship(back_populates="versions")


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    version: Mapped[ModelVersionRow] = relationship()


class DeploymentRow(Base):
    """One period during which a version held an alias (e.g. served as production).

    ``first_healthy_at`` and ``failed_at`` are what detection saw while it was live; a version
    whose latest period was healthy and never failed is a candidate "last known good".
    """

    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_model_alias_at", "model_id", "alias", "deployed_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    alias: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # deploy | rollback | fallback | reroute
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_healthy_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[ModelVersionRow] = relationship(foreign_keys=[version_id])
    previous_version: Mapped[ModelVersionRow | None] = relationship(
        foreign_keys=[previous_version_id]
    )


class TrafficSplitRow(Base):
    """One version's share (percent) of an alias's traffic; no rows: the alias's version takes all.

    A deploy or rollback of the alias clears its split (as re-applying a KServe InferenceService
    with ``canaryTrafficPercent: 0`` does).
    """

    __tablename__ = "traffic_splits"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    version: Mapped[ModelVersionRow] = relationship()


class RegionSwitchRow(Base):
    """One move of a model's traffic from one region's endpoint to another's (a failover)."""

    __tablename__ = "region_switches"
    __table_args__ = (Index("ix_region_switches_model_at", "model_id", "switched_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    from_region: Mapped[str | None] = mapped_column(String(64))
    to_region: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    switched_at: Mapped[datetime] = mapped_column(UTCDateTime)
