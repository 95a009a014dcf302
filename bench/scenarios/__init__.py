"""The scenarios, in the order `make bench` runs them: the ceilings first (every other
throughput is divided by them), the answer save before the chain of layers and before its
open-loop latency (which sends at shares of its maximum, from its teachers), the submission
storm before the sync drain (which delivers its outbox), the capacity model after every
scenario whose CPU per request it uses, memory last (it reports the peaks of the whole run)."""

from bench.scenarios.answer_latency import AnswerLatency
from bench.scenarios.answer_save import AnswerSave
from bench.scenarios.capacity import Capacity
from bench.scenarios.ceilings import Ceilings
from bench.scenarios.chain import Chain
from bench.scenarios.complaint_burst import ComplaintBurst
from bench.scenarios.dashboards import Dashboards
from bench.scenarios.fragments import Fragments
from bench.scenarios.memory import Memory
from bench.scenarios.start_storm import StartStorm
from bench.scenarios.submission_storm import SubmissionStorm
from bench.scenarios.sync_drain import SyncDrain

SCENARIOS = [
    Ceilings(),
    AnswerSave(),
    Chain(),
    AnswerLatency(),
    StartStorm(),
    SubmissionStorm(),
    SyncDrain(),
    ComplaintBurst(),
    Dashboards(),
    Fragments(),
    Capacity(),
    Memory(),
]
