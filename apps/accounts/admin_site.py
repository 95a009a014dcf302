from django.contrib import admin
from django.urls import reverse
from django.utils.decorators import method_decorator

from apps.accounts.two_factor import two_factor_redirect, two_factor_satisfied
from apps.accounts.views import login_rate_limit


class AdminSite(admin.AdminSite):
    """The default admin site (config.apps.AdminConfig): its login is limited like the site's,
    per client address and per username, on the same counters; an officer's session must
    also have passed two-factor login (apps.accounts.two_factor)."""

    def has_permission(self, request):
        return super().has_permission(request) and two_factor_satisfied(request)

    @method_decorator(login_rate_limit)
    def login(self, request, extra_context=None):
        # Signed in with the password but no code yet: to the code page, not to the admin's
        # "you are not authorised" login form.
        if request.user.is_active and request.user.is_staff and not two_factor_satisfied(request):
            return two_factor_redirect(request, request.GET.get("next") or reverse("admin:index"))
        return super().login(request, extra_context)
