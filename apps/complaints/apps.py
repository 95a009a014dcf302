from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "apps.complaints"
    label = "complaints"

    def ready(self):
        from apps.complaints import checks  # noqa: F401  (registers the vault's checks)
