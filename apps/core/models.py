"""The service's own record of being up (apps/core/heartbeat.py): what the outage credit and
the answer grace trust, because nothing a user sends goes into it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ServiceInterval(models.Model):
    """A stretch of time during which processes of `role` wrote a heartbeat at least every
    few seconds: each beat extends the role's latest interval, or starts a new one after a
    silence. A gap between two intervals of "web" is a time when no web process could write
    to PostgreSQL (the web nodes or the database were down)."""

    class Role(models.TextChoices):
        WEB = "web", _("web")
        WORKER = "worker", _("worker")

    role = models.CharField(_("role"), max_length=16, choices=Role)
    started_at = models.DateTimeField(_("first beat"))
    last_seen = models.DateTimeField(_("last beat"))

    class Meta:
        # Not on last_seen: each beat updates it, and an indexed column would defeat HOT updates.
        indexes = [models.Index(fields=["role", "started_at"], name="service_interval_role")]

    def __str__(self) -> str:
        return f"{self.role} {self.started_at:%Y-%m-%d %H:%M:%S}..{self.last_seen:%H:%M:%S}"


class ServiceOutage(models.Model):
    """A gap in the web heartbeat long enough to be credited (ASSESSMENTS_OUTAGE_MIN_SECONDS),
    recorded once by the recovery sweep; `credited_at` is set in the transaction that gave
    the running attempts their time, so each outage is credited exactly once."""

    started_at = models.DateTimeField(_("from"), unique=True)
    ended_at = models.DateTimeField(_("until"))
    credited_at = models.DateTimeField(_("credited"), null=True, blank=True)
    attempts_credited = models.PositiveIntegerField(_("attempts credited"), default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S}..{self.ended_at:%H:%M:%S}"

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()
