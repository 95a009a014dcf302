"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

.ci/run installs chromium; nothing downloads a browser of its own. Without chromium the
browser tests are skipped with the command that enables them, except under CI, where a
missing browser fails the run.
"""

import os
import re
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


ENABLE_COMMAND = "apt-get install chromium"
# CI must run every browser test: there a missing browser is a failure, never a skip.
REQUIRE_BROWSER = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(items):
    skip = pytest.mark.skip(
        reason=f"chromium is not installed: `{ENABLE_COMMAND}` (as root) enables the browser tests"
    )
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if not _chromium_installed() and not REQUIRE_BROWSER:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if not _chromium_installed() and not REQUIRE_BROWSER:
        terminalreporter.write_line(
            f"Browser tests skipped: chromium is not installed. Enable them with "
            f"`{ENABLE_COMMAND}` (as root); CI installs it and requires them.",
            yellow=True,
        )


def _chromium_installed() -> bool:
    return os.path.exists(CHROMIUM)


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # (fixtures, assertions) are still plain synchronous code.
    mp = pytest.MonkeyPatch()
    mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not _chromium_installed():
        pytest.fail(f"chromium is not installed and CI requires it: `{ENABLE_COMMAND}`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
    mp.undo()


@pytest.fixture
def context(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def demo_attempt(page, settings):
    """Teacher T1001 logged in and on the demo questionnaire's first attempt: the attempt."""
    from django.core.management import call_command
    from playwright.sync_api import expect

    from apps.accounts.demo import DEMO_PASSWORD
    from apps.assessments.demo import VESPA_SLUG
    from apps.assessments.models import Assessment, Attempt

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # plain-HTTP server
    call_command("seed_demo")
    vespa = Assessment.objects.get(slug=VESPA_SLUG)
    page.goto("/accounts/login/?next=/assessments/")
    page.fill("#id_username", "T1001")
    page.fill("#id_password", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.locator(f"[data-assessment='{vespa.pk}'] button").click()
    expect(page).to_have_url(re.compile(r"/assessments/attempts/\d+/"))
    return Attempt.objects.get(assessment=vespa, user__username="T1001")


@pytest.fixture
def live_settings(settings, tmp_path):
    """The complaints pages on the live server: plain-HTTP cookies, files in a temporary
    folder, reference data and groups back (a transactional test's flush removed the
    migration's), the rule triage and a fast status poll; the high queue, emptied."""
    import django_rq

    from apps.complaints.reference import groups_sync, reference_data_load

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.COMPLAINTS_STATUS_POLL_SECONDS = 1
    settings.TRIAGE_BACKEND = "rules"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    reference_data_load()
    groups_sync()
    queue = django_rq.get_queue("high")
    queue.empty()
    yield queue
    queue.empty()
