"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList

from apps.core.input import parse_int


class OfferedChoicesListFilter(admin.SimpleListFilter):
    """A list filter whose value is one of the choices it offers, or None. A value typed into
    the address (`?officer=abc`, `?triage=zzz`) is ignored, so `queryset()` never sees
    anything it would have to convert or that PostgreSQL would refuse (a 500)."""

    def value(self):
        value = super().value()
        offered = {str(lookup) for lookup, _title in self.lookup_choices}
        return value if value is not None and str(value) in offered else None


class GuardedChangeList(ChangeList):
    """Django's date drill-down converts `<field>__year/month/day` with int() and datetime()
    and catches only ValueError: a year of 25 digits (OverflowError) or 9999 (the year after
    is out of range) was a 500. Each part must be ASCII digits within its range; anything else
    is Django's "incorrect lookup" (a redirect to the unfiltered list)."""

    DATE_PARTS = (("year", 1, 9998), ("month", 1, 12), ("day", 1, 31))

    def get_filters(self, request):
        if self.date_hierarchy:
            for part, low, high in self.DATE_PARTS:
                for value in self.filter_params.get(f"{self.date_hierarchy}__{part}", []):
                    try:
                        parse_int(value, minimum=low, maximum=high)
                    except ValueError as error:
                        raise IncorrectLookupParameters(error) from error
        return super().get_filters(request)


class GuardedChangeListMixin:
    """For a ModelAdmin with a date_hierarchy."""

    def get_changelist(self, request, **kwargs):
        return GuardedChangeList
