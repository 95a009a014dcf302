"""Staff see the outbox here: filters by status, connector and age, the request and the
response of the last attempt, and replay / mark-dead actions (the same services as the
commands)."""

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.admin import GuardedChangeListMixin
from apps.sync import services
from apps.sync.models import ConnectorState, OutboxEvent, RemoteLink, RemoteRecord

AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}


class AgeFilter(admin.SimpleListFilter):
    title = _("age")
    parameter_name = "older_than"

    def lookups(self, request, model_admin):
        return [
            ("1h", _("Older than an hour")),
            ("1d", _("Older than a day")),
            ("7d", _("Older than a week")),
        ]

    def queryset(self, request, queryset):
        if self.value() in AGES:
            return queryset.filter(created_at__lt=timezone.now() - AGES[self.value()])
        return queryset


def _pretty(value) -> str:
    if value is None:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(OutboxEvent)
class OutboxEventAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = (
        "id", "event_type", "aggregate_key", "connector", "status", "priority", "attempts",
        "next_attempt_at", "created_at",
    )  # fmt: skip
    list_filter = ("status", "connector", "priority", AgeFilter, "event_type")
    search_fields = ("aggregate_key",)
    date_hierarchy = "created_at"
    list_select_related = False
    show_full_result_count = False  # no COUNT(*) over a large outbox
    actions = ("replay", "mark_dead")
    readonly_fields = (
        "connector", "event_type", "aggregate_type", "aggregate_key", "payload_pretty",
        "payload_hash", "priority", "status", "attempts", "next_attempt_at",
        "lease_expires_at", "leased_by", "last_error", "last_request_pretty",
        "last_response_pretty", "created_at", "delivered_at", "superseded_by",
    )  # fmt: skip
    exclude = ("payload", "last_request", "last_response")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj):
        return _pretty(obj.payload)

    @admin.display(description=_("last request"))
    def last_request_pretty(self, obj):
        return _pretty(obj.last_request)

    @admin.display(description=_("last response"))
    def last_response_pretty(self, obj):
        return _pretty(obj.last_response)

    @admin.action(description=_("Replay (send the latest state of these keys again)"))
    def replay(self, request, queryset):
        count = services.outbox_replay(ids=list(queryset.values_list("pk", flat=True)))
        message = ngettext("%(count)d key requeued.", "%(count)d keys requeued.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Mark dead (stop retrying)"))
    def mark_dead(self, request, queryset):
        count = services.outbox_mark_dead(ids=list(queryset.values_list("pk", flat=True)))
        message = ngettext("%(count)d event marked dead.", "%(count)d events marked dead.", count)
        self.message_user(request, message % {"count": count}, messages.SUCCESS)


@admin.register(ConnectorState)
class ConnectorStateAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    list_display = ("connector", "paused", "reason", "updated_at")
    fields = ("connector", "paused", "reason")

    def save_model(self, request, obj, form, change):
        services.connector_pause(connector=obj.connector, paused=obj.paused, reason=obj.reason)


class ReadOnlyAdmin(GuardedChangeListMixin, admin.ModelAdmin):
    """Written by the delivery and import services only."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(RemoteLink)
class RemoteLinkAdmin(ReadOnlyAdmin):
    list_display = ("aggregate_key", "connector", "remote_object", "remote_id", "updated_at")
    list_filter = ("connector", "remote_object")
    search_fields = ("=aggregate_key", "=remote_id")


@admin.register(RemoteRecord)
class RemoteRecordAdmin(ReadOnlyAdmin):
    list_display = ("remote_id", "remote_object", "external_key", "imported_at")
    list_filter = ("connector", "remote_object")
    search_fields = ("=remote_id", "=external_key")
