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


def verified_login(client, user) -> None:
    """Sign `user` in as if they had typed their password and a two-factor code: the way every
    test reaches the admin and the officer pages (apps.accounts.two_factor)."""
    client.force_login(user)
    two_factor_pass(client, user)


def two_factor_pass(client, user) -> None:
    """Mark the client's session, already signed in as `user`, as past the two-factor step."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def totp_code(device, steps_ahead: int = 0) -> str:
    """What the officer's authenticator app shows for `device` (`steps_ahead` 30-second steps
    later: a code is accepted once, and the next step's is within the tolerance)."""
    from django_otp.oath import totp

    t0 = device.t0 - steps_ahead * device.step
    return f"{totp(device.bin_key, device.step, t0, device.digits):0{device.digits}d}"
