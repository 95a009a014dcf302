"""Demo data for accounts: districts, batches, teachers, an officer and a staff user.

`manage.py seed_demo` calls `seed()` of every app that has a `demo` module, in the order of
INSTALLED_APPS; each must be idempotent.
"""

from django.contrib.auth.hashers import make_password
from django.db import transaction

from apps.accounts.models import Batch, District, User

DEMO_PASSWORD = "crowdproof-demo"
DEMO_DISTRICTS = ["Mumbai", "Pune", "Nagpur", "Nashik", "Aurangabad"]
DEMO_BATCHES = ["2026-A", "2026-B"]
DEMO_TEACHERS_PER_DISTRICT = 4
# Printed by `make run` next to the URL.
DEMO_LOGINS = [
    ("teacher", "T1001", DEMO_PASSWORD),
    ("officer", "officer", DEMO_PASSWORD),
    ("staff (admin)", "staff", DEMO_PASSWORD),
]


@transaction.atomic
def seed(*, stdout=None) -> None:
    password = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 is slow on purpose
    districts = [
        District.objects.get_or_create(code=name.lower(), defaults={"name": name})[0]
        for name in DEMO_DISTRICTS
    ]
    batches = [
        Batch.objects.get_or_create(code=name.lower(), defaults={"name": name})[0]
        for name in DEMO_BATCHES
    ]
    number = 1001
    for district in districts:
        for i in range(DEMO_TEACHERS_PER_DISTRICT):
            employee_id = f"T{number}"
            User.objects.get_or_create(
                employee_id=employee_id,
                defaults={
                    "username": employee_id,
                    "first_name": f"Teacher {number}",
                    "last_name": district.name,
                    "email": f"{employee_id.lower()}@demo.crowdproof.example",
                    "district": district,
                    "batch": batches[i % len(batches)],
                    "role": User.Role.TEACHER,
                    "password": password,
                },
            )
            number += 1
    User.objects.get_or_create(
        username="officer",
        defaults={
            "role": User.Role.OFFICER,
            "is_staff": True,
            "email": "officer@demo.crowdproof.example",
            "password": password,
        },
    )
    User.objects.get_or_create(
        username="staff",
        defaults={
            "role": User.Role.STAFF,
            "is_staff": True,
            "is_superuser": True,
            "email": "staff@demo.crowdproof.example",
            "password": password,
        },
    )
    if stdout:
        stdout.write(
            f"accounts: {len(districts)} districts, {len(batches)} batches, "
            f"{User.objects.filter(role=User.Role.TEACHER).count()} teachers"
        )
