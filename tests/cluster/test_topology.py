"""The `make cluster` topology on loopback (apps/core/cluster/topology.py), started once for
this module: two gunicorn nodes behind HAProxy, the queue Valkey with a replica and three
Sentinels (REDIS_URL=sentinel://...), a cache Valkey and two RQ workers, on a database of
its own on the tests' PostgreSQL. Everything is driven over HTTP through the balancer, as a
browser would, and checked in PostgreSQL. The tests run in order on the one topology: the
second kills a web node, the third the queue's primary.

Without Debian's haproxy these tests are skipped (with the command that installs it),
except under CI, which installs it (.ci/run) and requires them.
"""

import os
import re
import shutil
import threading
from collections import defaultdict
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import redis
from django_redis.cache import RedisCache
from rq import Queue
from rq.job import Job

from apps.accounts.demo import DEMO_PASSWORD
from apps.assessments.services import auto_submit_job_id
from apps.core.cluster.haproxy import INSTALL_COMMAND, SERVED_BY_HEADER
from apps.core.cluster.topology import Ports, Topology
from apps.core.redis_config import cache_connection, redis_client

pytestmark = pytest.mark.cluster

HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
if HAPROXY is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
    pytest.skip(f"haproxy is not installed: `{INSTALL_COMMAND}`", allow_module_level=True)

VESPA = "VESPA mindset questionnaire"  # the demo's 32 Likert statements
WAIT_SECONDS = 60  # bound on every wait for the cluster to act (failover, a job, a sweep)
LOAD_THREADS = 4
SAVES_AFTER_KILL = 6  # per thread: the load goes on through the surviving node
MAX_TRIES = 3  # a save that gets no answer is sent again, as the page does
# Migrations, the demo's teachers and questionnaire (not its 300 complaints, which the
# workers would spend the test triaging), in one process: each costs seconds of imports.
SETUP = (
    "from django.core.management import call_command; call_command('migrate', verbosity=0); "
    "from apps.accounts import demo as accounts; from apps.assessments import demo as tests; "
    "accounts.seed(); tests.seed()"
)
CHILD_ENV = {
    "DJANGO_DEBUG": "true",  # static files from the finders: no collectstatic for a test
    "LOGIN_RATE_LIMIT": "1000/m",  # every teacher logs in from 127.0.0.1
    "ASSESSMENTS_SAVE_RATE_LIMIT": "100000/m",
    "GUNICORN_THREADS": "4",
    "DB_POOL_MAX_SIZE": "4",
    "RQ_WORKER_POLL_SECONDS": "1",
    "RECOVERY_INTERVAL_SECONDS": "2",
    "TRIAGE_BACKEND": "rules",
    # Triage after the failover must come from the web's own enqueue, not from the sweep.
    "TRIAGE_STALE_SECONDS": "3600",
}


@pytest.fixture(scope="module")
def database_url():
    """A database of its own on the tests' PostgreSQL: the cluster migrates and seeds it."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"cluster_{os.getpid()}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, database_url):
    topology = Topology(
        tmp_path_factory.mktemp("cluster"),
        Ports.free(),
        database_url=database_url,
        web_workers=1,  # a 2-core machine: two nodes of one process each
        rq_workers=2,
        setup=[["shell", "-c", SETUP]],
        env=dict(CHILD_ENV),
    )
    with topology:
        topology.start()
        yield topology


@pytest.fixture(scope="module")
def cluster_db(cluster):
    """psycopg on the cluster's database (not pytest-django's `db`: no test database here)."""
    with psycopg.connect(cluster.env["DATABASE_URL"], autocommit=True) as conn:
        yield conn


class Teacher:
    """A browser through the balancer: logs in, starts the questionnaire, saves, submits."""

    def __init__(self, cluster, db, username: str):
        self.db = db
        self.http = httpx.Client(base_url=cluster.base_url, timeout=20)
        self.http.get("/accounts/login/")
        response = self.http.post(
            "/accounts/login/",
            data={"username": username, "password": DEMO_PASSWORD, **self._csrf_field()},
        )
        assert response.status_code == 302, response.text
        assessment_id, self.questions = self._questionnaire()
        response = self.http.post(f"/assessments/{assessment_id}/start/", headers=self.csrf())
        assert response.status_code == 302, response.text
        self.attempt_id = int(re.search(r"/attempts/(\d+)/", response.headers["location"])[1])

    def csrf(self) -> dict:
        return {"X-CSRFToken": self.http.cookies["csrftoken"]}

    def _csrf_field(self) -> dict:
        return {"csrfmiddlewaretoken": self.http.cookies["csrftoken"]}

    def _questionnaire(self) -> tuple[int, list[int]]:
        rows = self.db.execute(
            "SELECT a.id, q.id FROM assessments_assessment a "
            "JOIN assessments_question q ON q.assessment_id = a.id "
            "WHERE a.title = %s ORDER BY q.position",
            [VESPA],
        ).fetchall()
        return rows[0][0], [question for _, question in rows]

    def save(self, question_id: int, value: int, client: httpx.Client | None = None):
        """The htmx save; returns the response (raises on a broken connection)."""
        url = f"/assessments/attempts/{self.attempt_id}/questions/{question_id}/answer/"
        return (client or self.http).post(
            url, data={"value": value}, headers={"HX-Request": "true", **self.csrf()}
        )

    def submit(self):
        url = f"/assessments/attempts/{self.attempt_id}/submit/"
        return self.http.post(url, headers=self.csrf())

    def saved(self) -> dict[int, int]:
        rows = self.db.execute(
            "SELECT question_id, value FROM assessments_answer WHERE attempt_id = %s",
            [self.attempt_id],
        ).fetchall()
        return dict(rows)

    def status(self) -> tuple[str, bool]:
        return self.db.execute(
            "SELECT status, auto_submitted FROM assessments_attempt WHERE id = %s",
            [self.attempt_id],
        ).fetchone()


def _wait_for(predicate, what: str):
    """Poll until `predicate()` is truthy; the bound is generous, the test asserts behaviour."""
    deadline = threading.Event()
    timer = threading.Timer(WAIT_SECONDS, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            result = predicate()
            if result:
                return result
            deadline.wait(0.3)
    finally:
        timer.cancel()
    raise AssertionError(f"{what}: not within {WAIT_SECONDS} s")


def _save_with_replay(teacher, client, question: int, value: int):
    """(tries, last response or None): a save with no answer or no 200 is sent again."""
    response, tries = None, 0
    while tries < MAX_TRIES and (response is None or response.status_code != 200):
        tries += 1
        try:
            response = teacher.save(question, value, client)
        except httpx.TransportError:
            response = None
    return tries, response


def test_every_node_is_ready_with_its_queue_through_sentinel(cluster):
    """/readyz is what the balancer drains on: it must reach Redis the way the app does."""
    for port in cluster.ports.web:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["parts"] == {"postgres": "ok", "cache": "ok", "queue": "ok"}


def test_a_teacher_saves_and_submits_through_both_nodes(cluster, cluster_db):
    teacher = Teacher(cluster, cluster_db, "T1001")
    served_by = set()
    for position, question_id in enumerate(teacher.questions):
        response = teacher.save(question_id, position % 5 + 1)
        assert response.status_code == 200, response.text
        served_by.add(response.headers[SERVED_BY_HEADER])

    response = teacher.submit()

    assert response.status_code == 302
    # Logged in on one node, the session (cached_db) works on both: the nodes are stateless.
    assert served_by == {"web1", "web2"}
    assert teacher.saved() == {q: p % 5 + 1 for p, q in enumerate(teacher.questions)}
    assert teacher.status() == ("submitted", False)


def test_a_node_killed_mid_load_loses_no_acknowledged_save(cluster, cluster_db):
    """kill -9 of web1's master and worker while four threads save: every save the balancer
    acknowledged is in PostgreSQL, and every save sent after the kill is acknowledged by
    web2 within the page's resends (MAX_TRIES): a request HAProxy had sent on one of its
    kept-alive connections to the dead node is closed unanswered (HAProxy does not resend a
    POST: a complaint filing is not idempotent), and the page resends it, as it resends
    every save that got no answer. How many resends depends on how many idle connections to
    web1 HAProxy held (seen: up to 2 under load), not on anything the test controls."""
    teacher = Teacher(cluster, cluster_db, "T1002")
    killed = threading.Event()
    acknowledged: dict[int, int] = {}  # question -> value of its last acknowledged save
    after_kill = defaultdict(list)  # thread -> (tries, status, node) of saves after the kill
    lock = threading.Lock()
    first_saves = threading.Barrier(LOAD_THREADS + 1, timeout=WAIT_SECONDS)

    def load(number: int):
        # Each thread owns its questions: one thread's saves of a question are in order.
        mine = teacher.questions[number::LOAD_THREADS]
        with httpx.Client(base_url=cluster.base_url, cookies=teacher.http.cookies) as client:
            sent = 0
            while len(after_kill[number]) < SAVES_AFTER_KILL:
                question, value = mine[sent % len(mine)], sent % 5 + 1
                was_killed = killed.is_set()
                tries, response = _save_with_replay(teacher, client, question, value)
                status = response.status_code if response else None
                with lock:
                    if status == 200:
                        acknowledged[question] = value
                    if was_killed:
                        node = response.headers.get(SERVED_BY_HEADER) if response else None
                        after_kill[number].append((tries, status, node))
                sent += 1
                if sent == len(mine):
                    first_saves.wait()  # every thread is mid-load when the node dies

    threads = [threading.Thread(target=load, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    first_saves.wait()
    cluster.web["web1"].kill()  # SIGKILL to its process group: master and worker
    killed.set()
    for thread in threads:
        thread.join()

    assert not cluster.web["web1"].running
    sent_after = [save for saves in after_kill.values() for save in saves]
    assert len(sent_after) == LOAD_THREADS * SAVES_AFTER_KILL
    # Every one answered 200 by web2 (a save still unanswered after MAX_TRIES is not).
    assert {(status, node) for _, status, node in sent_after} == {(200, "web2")}
    assert teacher.saved() == acknowledged
    assert len(acknowledged) == len(teacher.questions)
    # Saves go on: the teacher submits through the surviving node.
    assert teacher.submit().status_code == 302
    assert teacher.status() == ("submitted", False)


def test_the_queue_fails_over_and_web_and_workers_carry_on(cluster, cluster_db):
    """kill -9 of the queue's primary: Sentinel promotes the replica; without a restart the
    web saves and enqueues, a worker runs the job, and an attempt whose auto-submit job the
    failover lost is submitted by the workers' recovery sweep from its database row."""
    queue = redis_client(cluster.queue.url)
    teacher = Teacher(cluster, cluster_db, "T1003")
    stranded = Teacher(cluster, cluster_db, "T1004")
    old_port = cluster.queue.master_port()
    pids = {p.name: p.popen.pid for p in [*cluster.workers, cluster.web["web2"]]}

    cluster.queue.node_on(old_port).process.kill()
    new_port = _wait_for(
        lambda: (port := cluster.queue.master_port()) not in (None, old_port) and port,
        "Sentinel failover",
    )

    assert new_port == next(n.port for n in cluster.queue.nodes[:2] if n.port != old_port)
    # `stranded` is due now, and its auto-submit job is gone from the new primary, as if
    # the old one had not replicated it yet: only its database row is left.
    sql = "SELECT deadline FROM assessments_attempt WHERE id = %s"
    deadline = cluster_db.execute(sql, [stranded.attempt_id]).fetchone()[0]
    job_id = auto_submit_job_id(deadline)
    if Job.exists(job_id, connection=queue):
        Job.fetch(job_id, connection=queue).delete()
    cluster_db.execute(
        "UPDATE assessments_attempt SET deadline = now() WHERE id = %s", [stranded.attempt_id]
    )
    # The web, through the new primary: a save, and a complaint whose triage is a job.
    _wait_for(lambda: teacher.save(teacher.questions[0], 4).status_code == 200, "a save")
    description = f"Cluster failover test {os.getpid()}: the clerk asked for a payment."
    response = teacher.http.post(
        "/complaints/",
        data={"description": description, "anonymous": "on"},
        headers=teacher.csrf(),
    )
    assert response.status_code == 201, response.text

    _wait_for(
        lambda: cluster_db.execute(
            "SELECT t.state FROM complaints_triagejob t JOIN complaints_complaint c "
            "ON c.id = t.complaint_id WHERE c.description = %s AND t.state IN ('done', 'manual')",
            [description],
        ).fetchone(),
        "triage of the complaint filed after the failover",
    )
    _wait_for(lambda: stranded.status()[0] == "submitted", "the recovery sweep")
    # Scheduled work goes on: the workers' scheduler (which died with the old primary and
    # was started again) moves a due job onto the queue of the new primary.
    scheduled = Queue("high", connection=queue).enqueue_in(timedelta(seconds=1), "os.getpid")
    _wait_for(lambda: scheduled.get_status(refresh=True) == "finished", "a scheduled job")

    assert stranded.status() == ("submitted", True)
    assert teacher.saved()[teacher.questions[0]] == 4
    assert not Job.exists(job_id, connection=queue)
    # Nothing was restarted: the same processes carried on.
    assert {p.name: p.popen.pid for p in [*cluster.workers, cluster.web["web2"]]} == pids
    assert all(p.running for p in [*cluster.workers, cluster.web["web2"]])


def test_the_cache_through_sentinel_writes_to_the_current_primary(cluster):
    """CACHE_URL=sentinel://...: django-redis's SentinelClient, after the failover above,
    finds the promoted primary (the cluster's own cache is a separate, plain Valkey)."""
    location, options = cache_connection(cluster.queue.url.replace("/0", "/1"))
    cache = RedisCache(location, {"OPTIONS": options, "KEY_PREFIX": "sentinel-test"})
    primary = redis.Redis(port=cluster.queue.master_port(), db=1)

    cache.set("probe", {"answer": 42}, 60)

    assert cache.get("probe") == {"answer": 42}
    assert primary.exists("sentinel-test:1:probe")
