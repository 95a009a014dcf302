from django.conf import settings
from django.contrib.auth.views import LoginView
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit


def login_rate(group, request) -> str:
    return settings.LOGIN_RATE_LIMIT


# Two limits: per client address (password spraying) and per username (guessing one account).
@method_decorator(ratelimit(key="ip", rate=login_rate, method="POST", block=True), name="post")
@method_decorator(
    ratelimit(key="post:username", rate=login_rate, method="POST", block=True), name="post"
)
class RateLimitedLoginView(LoginView):
    redirect_authenticated_user = True
