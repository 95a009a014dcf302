from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "apps.complaints"
    label = "complaints"
    verbose_name = _("Complaints")

    def ready(self):
        from apps.complaints import checks  # noqa: F401  (registers the vault's checks)
