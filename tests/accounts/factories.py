import factory

from apps.accounts.models import Batch, District, User

TEST_PASSWORD = "correct-horse-battery-staple"


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ["code"]

    name = factory.Sequence(lambda n: f"District {n}")
    code = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class BatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Batch
        django_get_or_create = ["code"]

    name = factory.Sequence(lambda n: f"Batch {n}")
    code = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password(TEST_PASSWORD)


class TeacherFactory(UserFactory):
    role = User.Role.TEACHER
    employee_id = factory.Sequence(lambda n: f"E{n:06d}")
    username = factory.LazyAttribute(lambda o: o.employee_id)
    district = factory.SubFactory(DistrictFactory)
    batch = factory.SubFactory(BatchFactory)


class OfficerFactory(UserFactory):
    role = User.Role.OFFICER
    is_staff = True
