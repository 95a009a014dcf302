from django.contrib import admin
from django.utils.decorators import method_decorator

from apps.accounts.views import login_rate_limit


class AdminSite(admin.AdminSite):
    """The default admin site (config.apps.AdminConfig): its login is limited like the site's,
    per client address and per username, on the same counters."""

    @method_decorator(login_rate_limit)
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)
