"""A realistic exam day for staff rehearsals against their own deployment (not run by the
test suite, and locust is not a project dependency):

    uvx locust -f tests/load/locustfile.py --host https://crowdproof.example.org
    # or: pip install locust && locust -f tests/load/locustfile.py --host ...

Each simulated teacher logs in, opens the dashboard, starts (or resumes) the first open
assessment, answers every question with think time in between, reviews, submits and reads
the result, then logs out and starts again as the next account.

Accounts (teachers that may take the open assessment, one per simulated user at a time):
    CROWDPROOF_USERS_CSV=teachers.csv      "username,password" lines, or
    CROWDPROOF_USERS=T{n} CROWDPROOF_USER_RANGE=1001-1020 CROWDPROOF_PASSWORD=...
Pacing: CROWDPROOF_THINK_SECONDS=20-50 between answers (an exam of 32 items in 20 minutes
is about 37 s per item). Run with as many users as teachers in the slot, ramped up over the
slot's opening minutes (e.g. -u 40000 -r 200), from enough load machines.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import re
import threading

import gevent
from locust import HttpUser, SequentialTaskSet, between, task

_FORM_ACTION = re.compile(r'<form[^>]*action="(?P<action>[^"]*/answer/)"')
_INPUT = re.compile(
    r'<(?:input|textarea)[^>]*name="(?P<name>value|choice|choices|text)"'
    r'(?:[^>]*value="(?P<value>[^"]*)")?'
)
_START = re.compile(
    r'action="(?P<action>/[^"]*/start/)".*?name="number" value="(?P<number>\d+)"', re.S
)
_RESUME = re.compile(r'href="(?P<href>/[^"]*/attempts/\d+/)"')


def _accounts():
    path = os.environ.get("CROWDPROOF_USERS_CSV")
    if path:
        with open(path, newline="") as handle:
            rows = [(row[0], row[1]) for row in csv.reader(handle) if row and row[0] != "username"]
    else:
        pattern = os.environ.get("CROWDPROOF_USERS", "T{n}")
        low, high = os.environ.get("CROWDPROOF_USER_RANGE", "1001-1020").split("-")
        password = os.environ.get("CROWDPROOF_PASSWORD", "crowdproof-demo")
        rows = [(pattern.format(n=n), password) for n in range(int(low), int(high) + 1)]
    return itertools.cycle(rows)


_ACCOUNTS = _accounts()
_ACCOUNTS_LOCK = threading.Lock()
_THINK_LOW, _, _THINK_HIGH = os.environ.get("CROWDPROOF_THINK_SECONDS", "20-50").partition("-")


def _questions(page: str) -> list[tuple[str, str, list[str]]]:
    """(answer URL, field name, possible values) of each question form on the take page."""
    found = []
    for section in page.split('<section class="question"')[1:]:
        action = _FORM_ACTION.search(section)
        inputs = list(_INPUT.finditer(section))
        if action and inputs:
            name = inputs[0]["name"]
            values = [i["value"] for i in inputs if i["value"] is not None]
            found.append((action["action"].replace("&amp;", "&"), name, values))
    return found


class ExamDay(SequentialTaskSet):
    """One teacher's slot, from login to result."""

    def on_start(self):
        with _ACCOUNTS_LOCK:
            self.username, password = next(_ACCOUNTS)
        self.client.get("/accounts/login/", name="login page")
        self.client.post(
            "/accounts/login/",
            {"username": self.username, "password": password, "csrfmiddlewaretoken": self.csrf},
            headers=self.headers(htmx=False),
            name="login",
        )
        self.attempt_page = ""

    @property
    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def headers(self, htmx: bool = True) -> dict[str, str]:
        # Over HTTPS Django's CSRF check also wants a same-origin Referer.
        headers = {"X-CSRFToken": self.csrf, "Referer": self.client.base_url + "/"}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    @task
    def open_assessment(self):
        dashboard = self.client.get("/assessments/", name="dashboard").text
        start, resume = _START.search(dashboard), _RESUME.search(dashboard)
        if start:
            response = self.client.post(
                start["action"],
                {"number": start["number"]},
                headers=self.headers(htmx=False),
                name="start",
            )
        elif resume:
            response = self.client.get(resume["href"], name="take (resume)")
        else:
            self.interrupt(reschedule=False)  # nothing open for this account
            return
        self.attempt_url = response.url
        self.attempt_page = response.text

    @task
    def answer_every_question(self):
        for url, name, values in _questions(self.attempt_page):
            self.wait_think()
            value = random.choice(values) if values else "An answer typed by a teacher."
            self.client.post(url, {name: value}, headers=self.headers(), name="answer (htmx)")

    @task
    def submit(self):
        review = self.attempt_url.rstrip("/") + "/review/"
        self.client.get(review, name="review")
        submit = self.attempt_url.rstrip("/") + "/submit/"
        self.client.post(submit, {}, headers=self.headers(), name="submit (htmx)")
        self.client.get(self.attempt_url.rstrip("/") + "/result/", name="result")

    @task
    def log_out(self):
        self.client.post("/accounts/logout/", {}, headers=self.headers(htmx=False), name="logout")
        self.client.cookies.clear()
        self.on_start()

    @staticmethod
    def wait_think():
        """A teacher reading and thinking (gevent: the other simulated users go on)."""
        gevent.sleep(random.uniform(float(_THINK_LOW), float(_THINK_HIGH or _THINK_LOW)))


class Teacher(HttpUser):
    tasks = [ExamDay]
    wait_time = between(1, 3)
