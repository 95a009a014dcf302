"""The transactional outbox: every outbound event is a row written in the same transaction
as the domain change, then delivered by workers (see the sync issue / DESIGN.md)."""

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
    # Coalesced: a later event for the same key was delivered instead of this one.
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

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


class RemoteLink(models.Model):
    """Our key -> the remote record id, so a delivery is one PUT (one POST the first time).

    A link with an empty `remote_id` is written (and committed) just before the first POST:
    if that POST's response is lost, the next delivery looks the record up by our external
    key before creating another one."""

    connector = models.CharField(max_length=50)
    aggregate_key = models.CharField(max_length=100)
    remote_object = models.CharField(max_length=50)  # e.g. "object_1"
    remote_id = models.CharField(max_length=100, blank=True)
    fields_hash = models.CharField(max_length=64, blank=True)  # of the fields last delivered
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "aggregate_key"], name="remote_link_key")
        ]

    def __str__(self) -> str:
        return f"{self.aggregate_key} -> {self.remote_object}/{self.remote_id or '?'}"


class ConnectorState(models.Model):
    """The pause switch of one connector (shared by every worker through the database)."""

    connector = models.CharField(max_length=50, primary_key=True)
    paused = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.connector} ({'paused' if self.paused else 'running'})"


class RemoteRecord(models.Model):
    """A record pulled from the remote by `sync_import` (historical data), upserted by id."""

    connector = models.CharField(max_length=50)
    remote_object = models.CharField(max_length=50)
    remote_id = models.CharField(max_length=100)
    external_key = models.CharField(max_length=100, blank=True, db_index=True)
    fields = models.JSONField()
    fields_hash = models.CharField(max_length=64)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "remote_object", "remote_id"], name="remote_record_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.remote_object}/{self.remote_id}"
