from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class District(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=32, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    """A cohort of teachers (e.g. "2026-A") that assessments can be opened for."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=32, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        TEACHER = "teacher", _("Teacher")
        OFFICER = "officer", _("Officer")
        STAFF = "staff", _("Staff")

    role = models.CharField(_("role"), max_length=16, choices=Role, default=Role.TEACHER)
    # Teachers are identified by their employer's id; officers and staff may have none.
    employee_id = models.CharField(
        _("employee id"), max_length=32, unique=True, null=True, blank=True
    )
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )

    class Meta:
        indexes = [models.Index(fields=["role", "district", "batch"])]
