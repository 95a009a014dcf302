"""Reference data kept as data: categories, sectors, acts and the rule backend's keyword rules
(data/reference.json), and the officers' groups with their permissions.

Both loaders are idempotent and take an app registry, so the data migration runs them with
the historical models and tests (whose transactional flush empties tables) with the live ones.
"""

import json
import re
from pathlib import Path

from django.apps import apps as global_apps
from django.db.models import Q

REFERENCE_FILE = Path(__file__).parent / "data" / "reference.json"

ERR_RULE_UNKNOWN = "Triage rule /{pattern}/ names an unknown {kind} {code!r}."
ERR_RULE_PATTERN = "Triage rule /{pattern}/ is not a valid regular expression: {error}."

OFFICER_PERMISSIONS = [
    *(
        f"complaints.{codename}"
        for codename in (
            "view_complaint",
            "change_complaint",
            "download_attachment",
            "requeue_triage",
            "view_dashboard",
            "view_attachment",
            "view_complaintevent",
            "view_triageoverride",
            "view_category",
            "view_sector",
            "view_act",
            "view_triagerule",
        )
    ),
    "accounts.view_user",  # the admin's officer autocomplete asks for it
]
GROUP_PERMISSIONS = {
    "Officers": OFFICER_PERMISSIONS,
    "Supervisors": [
        *OFFICER_PERMISSIONS,
        "complaints.export_complaint",
        # Who filed a complaint: supervisors only; officers ask through public replies.
        "complaints.view_complainant_identity",
        *(
            f"complaints.{verb}_{model}"
            for verb in ("add", "change")
            for model in ("category", "sector", "act", "triagerule")
        ),
        "complaints.delete_triagerule",
    ],
}


class ReferenceDataError(ValueError):
    pass


def reference_data_read(*, path: Path = REFERENCE_FILE) -> dict:
    """Read the file and check that every rule compiles and names known codes."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tables = {"category": "categories", "sector": "sectors", "act": "acts"}
    known = {kind: {row["code"] for row in data[table]} for kind, table in tables.items()}
    for rule in data["rules"]:
        try:
            re.compile(rule["pattern"])
        except re.error as error:
            raise ReferenceDataError(
                ERR_RULE_PATTERN.format(pattern=rule["pattern"], error=error)
            ) from None
        for kind in ("category", "sector", "act"):
            code = rule.get(kind)
            if code is not None and code not in known[kind]:
                raise ReferenceDataError(
                    ERR_RULE_UNKNOWN.format(pattern=rule["pattern"], kind=kind, code=code)
                )
    return data


def reference_data_load(*, apps=global_apps, path: Path = REFERENCE_FILE) -> None:
    """Upsert the file's rows by code (rules by pattern and category): one query per table."""
    data = reference_data_read(path=path)
    models = {
        name: apps.get_model("complaints", name)
        for name in ("Category", "Sector", "Act", "TriageRule")
    }
    for name, key in (("Category", "categories"), ("Sector", "sectors"), ("Act", "acts")):
        rows = data[key]
        fields = [f for f in rows[0] if f != "code"]
        models[name].objects.bulk_create(
            [models[name](**row) for row in rows],
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=fields,
        )
    ids = {
        name: dict(models[name].objects.values_list("code", "pk"))
        for name in ("Category", "Sector", "Act")
    }
    models["TriageRule"].objects.bulk_create(
        [
            models["TriageRule"](
                pattern=rule["pattern"],
                category_id=ids["Category"][rule["category"]],
                sector_id=ids["Sector"].get(rule.get("sector")),
                act_id=ids["Act"].get(rule.get("act")),
                weight=rule.get("weight", 1),
            )
            for rule in data["rules"]
        ],
        update_conflicts=True,
        unique_fields=["pattern", "category"],
        update_fields=["sector", "act", "weight"],
    )


def groups_sync(*, apps=global_apps) -> None:
    """Create the "Officers" and "Supervisors" groups with exactly their permissions."""
    from django.contrib.auth.management import create_permissions

    for label in ("accounts", "complaints"):
        app_config = apps.get_app_config(label)
        # A migration's app registry has no models module; create_permissions needs one set.
        app_config.models_module = getattr(app_config, "models_module", None) or True
        create_permissions(app_config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in GROUP_PERMISSIONS.items():
        wanted = Q()
        for permission in permissions:
            app_label, codename = permission.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(Permission.objects.filter(wanted))
