"""Traffic metrics: messages by precedence, acknowledgement latency, the overdue count."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from fusioncell.cell import Cell
from fusioncell.ledger.entries import CommittedEntry
from fusioncell.ops import Metrics
from fusioncell.traffic.models import Delivery, Message

ACK_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600)


class _Overdue(Collector):
    """Computed from the database at scrape time, so every instance reports the same, current figure."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell

    def collect(self):  # type: ignore[no-untyped-def]
        gauge = GaugeMetricFamily(
            "fusioncell_messages_overdue",
            "Deliveries past their acknowledgement deadline and not acknowledged, by precedence",
            labels=["precedence"],
        )
        now = self.cell.clock.now()
        with self.cell.reading() as session:
            rows = session.execute(
                select(Message.precedence, func.count())
                .join(Delivery, Delivery.message_id == Message.id)
                .where(Delivery.state.in_(("pending", "delivered")), Message.ack_due_at <= now)
                .group_by(Message.precedence)
            ).all()
        for precedence, count in rows:
            gauge.add_metric([precedence], count)
        yield gauge


def install_traffic_metrics(cell: Cell, metrics: Metrics) -> None:
    sent = Counter(
        "fusioncell_messages_sent_total",
        "Messages sent through this instance, by precedence and track",
        ["precedence", "track"],
        registry=metrics.registry,
    )
    ack_latency = Histogram(
        "fusioncell_ack_latency_seconds",
        "Time from send to acknowledgement, by precedence",
        ["precedence"],
        buckets=ACK_BUCKETS,
        registry=metrics.registry,
    )
    metrics.registry.register(_Overdue(cell))

    def observe(entry: CommittedEntry) -> None:
        if entry.action == "message.sent":
            message = entry.content["message"]
            sent.labels(message["precedence"], message["track"]).inc()
        elif entry.action == "message.acknowledged":
            content = entry.content
            acknowledged = datetime.fromisoformat(content["acknowledged_at"].replace("Z", "+00:00"))
            sent_at = datetime.fromisoformat(content["sent_at"].replace("Z", "+00:00"))
            ack_latency.labels(content["precedence"]).observe((acknowledged - sent_at).total_seconds())

    cell.bus.subscribe(observe)
