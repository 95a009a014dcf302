from django.contrib.auth.views import LogoutView
from django.urls import path

from apps.accounts import views

urlpatterns = [
    path("login/", views.RateLimitedLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("two-factor/", views.two_factor_verify, name="two-factor"),
    path("two-factor/enrol/", views.two_factor_enrol, name="two-factor-enrol"),
    path("two-factor/recovery-codes/", views.recovery_codes, name="two-factor-recovery-codes"),
]
