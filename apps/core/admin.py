"""Admin building blocks shared by the apps."""

from django.contrib import admin


class OfferedChoicesListFilter(admin.SimpleListFilter):
    """A list filter whose value is one of the choices it offers, or None. A value typed into
    the address (`?officer=abc`, `?triage=zzz`) is ignored, so `queryset()` never sees
    anything it would have to convert or that PostgreSQL would refuse (a 500)."""

    def value(self):
        value = super().value()
        offered = {str(lookup) for lookup, _title in self.lookup_choices}
        return value if value is not None and str(value) in offered else None
