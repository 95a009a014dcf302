from django.contrib.auth.views import LoginView
from django.utils.decorators import method_decorator

from apps.core.ratelimit import rate_limit, rate_setting

# Two limits: per client address (password spraying) and per username (guessing one account).
# The site's and the admin's login share the counters (apps.accounts.admin_site).
login_rate_limit = rate_limit(
    group="accounts:login", keys=("ip", "post:username"), rate=rate_setting("LOGIN_RATE_LIMIT")
)


@method_decorator(login_rate_limit, name="post")
class RateLimitedLoginView(LoginView):
    redirect_authenticated_user = True
