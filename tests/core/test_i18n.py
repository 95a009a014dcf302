import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ms", "Selamat datang ke Crowdproof"), ("hi", "Crowdproof में आपका स्वागत है")],
)
def test_language_switcher_serves_the_chosen_catalogue(client, language, expected):
    response = client.post(reverse("set_language"), {"language": language, "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert expected in page
    assert f'<html lang="{language}">' in page


def test_english_is_the_default(client):
    assert "Welcome to Crowdproof" in client.get("/").content.decode()
