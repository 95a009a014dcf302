"""The transactional outbox: every outbound event is a row written in the same transaction
as the domain change, then delivered by workers (see the sync issue / DESIGN.md)."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        IN_FLIGHT = "in_flight", _("In flight")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (will retry)")
        DEAD = "dead", _("Dead (needs a human)")

    class Priority(models.IntegerChoices):
        LIVE = 0, _("Live")
        BACKFILL = 1, _("Backfill")

    connector = models.CharField(max_length=50, default="records")
    event_type = models.CharField(max_length=100)  # e.g. "attempt.submitted"
    aggregate_type = models.CharField(max_length=50)  # e.g. "attempt"
    aggregate_key = models.CharField(max_length=100)  # our key for the remote record
    payload = models.JSONField()
    payload_hash = models.CharField(max_length=64)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    priority = models.PositiveSmallIntegerField(choices=Priority, default=Priority.LIVE)

    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    last_request = models.JSONField(null=True, blank=True)
    last_response = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The delivery claim: due rows per connector, live before backfill.
            models.Index(
                fields=["connector", "priority", "next_attempt_at"],
                name="outbox_due",
                condition=Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["connector", "aggregate_key", "status"], name="outbox_key"),
            models.Index(
                fields=["lease_expires_at"], name="outbox_lease", condition=Q(status="in_flight")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_key} ({self.status})"
