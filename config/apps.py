from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """django.contrib.admin with our AdminSite as `admin.site` (its login is rate limited)."""

    default_site = "apps.accounts.admin_site.AdminSite"
