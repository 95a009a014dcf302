from django import forms
from django.conf import settings
from django.contrib.admin.helpers import ActionForm
from django.template.defaultfilters import filesizeformat
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.complaints import vault
from apps.complaints.models import Category, Complaint, Sector
from apps.complaints.selectors import complaint_by_reference
from apps.complaints.services import FILING_FIELDS, MB, complaint_update_check
from apps.core.errors import application_error_into_form
from apps.core.exceptions import Invalid, Refused
from apps.core.input import AsciiDateField, model_max_length

ERR_FUTURE_DATE = _("The incident date cannot be in the future.")
ERR_SPAM = _("Your complaint could not be accepted.")
ERR_UNKNOWN_FIELD = _("Unknown field.")
ERR_STATUS_NOT_FOUND = _("No complaint matches this reference and receipt.")
MSG_FOLLOWED_UP = _("Thank you: your information was added and the officer in charge will see it.")
ERR_PRIMARY_NOT_FOUND = _("No complaint has this reference.")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; their number, sizes and types are checked by the filing
    service (services.attachments), whoever files."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, allow_empty_file=True, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


# Checked as the complainant types: every filing field but the checkbox.
VALIDATED_FIELDS = tuple(name for name in FILING_FIELDS if name != "anonymous")


class ComplaintForm(forms.Form):
    """The public form: the fields of services.Filing, their formats and the honeypot. What
    the filing must hold (contact or anonymous, attachment limits) is the service's to check;
    its Invalid comes back as this form's errors."""

    description = forms.CharField(
        label=_("What happened?"),
        min_length=30,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Who was involved, what they did or asked for, when and where."),
    )
    # Limits come from the columns: a longer value is refused here with a message, never by
    # PostgreSQL with a 500 that loses what the complainant typed.
    incident_date = AsciiDateField(
        label=_("When did it happen?"), required=False, widget=forms.DateInput({"type": "date"})
    )
    incident_place = forms.CharField(
        label=_("Where?"), max_length=model_max_length(Complaint, "incident_place"), required=False
    )
    anonymous = forms.BooleanField(label=_("File anonymously"), required=False)
    contact_name = forms.CharField(
        label=_("Your name"), max_length=vault.NAME_MAX_LENGTH, required=False
    )
    contact_email = forms.EmailField(
        label=_("Email"), max_length=vault.EMAIL_MAX_LENGTH, required=False
    )
    contact_phone = forms.RegexField(
        label=_("Phone"),
        regex=r"^\+?[0-9 ()-]{6,30}$",
        max_length=vault.PHONE_MAX_LENGTH,
        required=False,
        error_messages={"invalid": _("Enter a phone number (digits, spaces, + and -).")},
    )
    attachments = MultipleFileField(label=_("Evidence (optional)"), required=False)
    # A honeypot: hidden from people by CSS, filled by bots.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        validate_url = reverse_lazy("complaints:validate")
        for name in VALIDATED_FIELDS:
            self.fields[name].widget.attrs.update(
                {
                    "hx-post": f"{validate_url}?field={name}",
                    "hx-trigger": "change",
                    "hx-target": f"#errors-{name}",
                    "hx-swap": "innerHTML",  # not the form's outerHTML
                    "hx-params": "not attachments",
                    "aria-describedby": f"errors-{name}",
                }
            )
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        self.fields["attachments"].help_text = _(
            "Up to %(count)s files, %(per_file)s each, %(total)s in all."
        ) % {
            "count": settings.COMPLAINTS_MAX_FILES,
            "per_file": filesizeformat(settings.COMPLAINTS_MAX_FILE_MB * MB),
            "total": filesizeformat(settings.COMPLAINTS_MAX_TOTAL_MB * MB),
        }

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website"))

    def clean_incident_date(self):
        value = self.cleaned_data["incident_date"]
        if value and value > timezone.localdate():
            raise forms.ValidationError(ERR_FUTURE_DATE)
        return value

    def field_errors(self, name: str) -> list[str]:
        """Inline validation: this field's errors only, whatever else is still missing."""
        if name not in VALIDATED_FIELDS:
            raise KeyError(name)
        self.is_valid()
        return self.errors.get(name, [])


def reference_field(label) -> forms.RegexField:
    return forms.RegexField(
        label=label,
        regex=r"^\s*[Cc][Pp]-[0-9]{4}-[0-9]{6}\s*$",  # ASCII digits only, not \d
        max_length=30,
        error_messages={"invalid": _("A reference looks like CP-2026-000123.")},
    )


class StatusForm(forms.Form):
    reference = reference_field(_("Reference"))
    receipt = forms.CharField(label=_("Receipt"), max_length=40)


class MergeForm(forms.Form):
    """The primary a complaint is a duplicate of, by its reference (change page, bulk action)."""

    primary = reference_field(_("Reference of the primary complaint"))

    def clean_primary(self) -> Complaint:
        primary = complaint_by_reference(self.cleaned_data["primary"])
        if primary is None:
            raise forms.ValidationError(ERR_PRIMARY_NOT_FOUND)
        return primary


class FollowUpForm(forms.Form):
    """The status page's "add information": text and files, with the filing form's formats
    (length, no NUL); the receipt comes with it in a StatusForm, and the follow-up service
    checks the rest (something given, the attachment limits) as the filing service does."""

    text = forms.CharField(
        label=_("What do you want to add?"),
        required=False,
        max_length=ComplaintForm.base_fields["description"].max_length,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = MultipleFileField(label=_("More evidence (optional)"), required=False)
    # How many follow-ups the page showed: a resent form (a reload, a second click without
    # JavaScript) finds one more and adds nothing (services/follow_up.py).
    follow_ups_seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, generation: int = 0, **kwargs):
        # htmx keeps what is typed and chosen across the panel's swaps (a poll, a refusal) by
        # the fields' ids; a follow-up that went through starts the next one empty.
        super().__init__(*args, auto_id=f"follow-up-{generation}-%s", **kwargs)
        for field in self.fields.values():
            if not field.widget.is_hidden:  # the count is always the server's, never kept
                field.widget.attrs["hx-preserve"] = "true"


class DashboardFilterForm(forms.Form):
    PERIODS = [(7, _("7 days")), (30, _("30 days")), (90, _("90 days")), (365, _("1 year"))]
    DEFAULT_DAYS = 30

    days = forms.TypedChoiceField(label=_("Period"), choices=PERIODS, coerce=int)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All"),
    )
    sector = forms.ModelChoiceField(
        label=_("Sector"),
        queryset=Sector.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All"),
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All")), *Complaint.Status.choices], required=False
    )

    def __init__(self, data, **kwargs):
        # The select must show the period the figures are computed for: an absent or empty
        # `days` is bound as the default, not left for the browser to show its first option.
        data = data.copy()
        if not data.get("days"):
            data["days"] = str(self.DEFAULT_DAYS)
        super().__init__(data, **kwargs)

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "days": data["days"],
            "category": data["category"].code if data.get("category") else "",
            "sector": data["sector"].code if data.get("sector") else "",
            "status": data.get("status") or "",
        }


class StatusActionForm(ActionForm):
    """The admin's action bar: the status (and outcome) for the "set status" action, the
    primary's reference for "mark as duplicate of"."""

    status = forms.ChoiceField(
        label=_("status"), choices=[("", "---------"), *Complaint.Status.choices], required=False
    )
    outcome = forms.ChoiceField(
        label=_("outcome"), choices=[("", "---------"), *Complaint.Outcome.choices], required=False
    )
    primary = forms.CharField(
        label=_("primary (for “Mark as duplicate of…”)"),
        max_length=30,
        required=False,
        widget=forms.TextInput({"placeholder": "CP-2026-000123", "size": 16}),
    )


# What an officer edits on a complaint's change page (besides a note and a reply).
EDITABLE = ("status", "outcome", "priority", "assigned_to", "category", "sector", "act")


class ComplaintAdminForm(forms.ModelForm):
    """A complaint's change page: the editable columns, a note and a reply. The outcome rule
    and the lifecycle's moves are the service's (complaint_update_check), shown here before
    anything is saved."""

    note = forms.CharField(
        label=_("Add an internal note"),
        required=False,
        widget=forms.Textarea({"rows": 3}),
        help_text=_("Seen by officers only."),
    )
    reply = forms.CharField(
        label=_("Send a public reply"),
        required=False,
        widget=forms.Textarea({"rows": 3}),
        help_text=_("Shown to the complainant on the status page."),
    )

    class Meta:
        model = Complaint
        fields = EDITABLE

    def clean(self):
        data = super().clean()
        changes = {name: data[name] for name in self.changed_data if name in data}
        try:
            complaint_update_check(complaint=self.instance, changes=changes)
        except Invalid as error:
            application_error_into_form(self, error)
        except Refused as error:
            self.add_error("status", error.message)
        return data
