from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from apps.accounts.backends import user_changed

        user_model = self.get_model("User")
        post_save.connect(user_changed, sender=user_model, dispatch_uid="accounts-user-saved")
        post_delete.connect(user_changed, sender=user_model, dispatch_uid="accounts-user-deleted")
