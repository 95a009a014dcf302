from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django_rq import urls as rq_urls

from apps.core import views as core_views

rq_admin_urls = rq_urls.get_admin_urlpatterns(view_wrapper=admin.site.admin_view)
urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("accounts/", include("apps.accounts.urls")),
    path("assessments/", include("apps.assessments.urls")),
    path("complaints/", include("apps.complaints.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # django-rq's pages behind the admin's checks (staff and two-factor login), not only
    # its own staff_member_required; its stats JSON keeps its API token.
    path("admin/rq/", include((rq_urls.get_api_urlpatterns() + rq_admin_urls, "django_rq"))),
    path("admin/", admin.site.urls),
]

# Pages that say what happened and what to do; for htmx the message alone (apps/core/errors.py).
# 500 stays Django's: templates/500.html, which needs neither the request nor the database.
handler400 = "apps.core.errors.bad_request"
handler403 = "apps.core.errors.permission_denied"
handler404 = "apps.core.errors.page_not_found"

# `make bench` only (BENCH_CEILINGS): the ceiling views of bench/ceilings.py.
urlpatterns += [path("bench/", include("bench.ceilings"))] if settings.BENCH_CEILINGS else []
