"""Triage backends behind one interface, and the validation every answer goes through.

`rules` (the default) matches the keyword rules kept in the TriageRule table, with no network.
`openai` asks an OpenAI-compatible chat-completions API for strict JSON. Both return a raw
answer (a dict); `answer_validate` checks it against the Category/Sector/Act tables and the
confidence threshold, and never invents a value. No database here: the caller passes the
rules and the choices (services.triage_jobs picks the backend, selectors read the tables).
"""

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol

PROMPT_VERSION = "triage-v1"
FIVE_W_ONE_H = ("who", "what", "when", "where", "why", "how")

ERR_NOT_AN_OBJECT = "The answer is not a JSON object."
ERR_NOT_JSON = "The answer is not valid JSON: {error}."
ERR_UNKNOWN_CODE = "Unknown {kind} {code!r}: not in the reference tables."
ERR_NO_CATEGORY = "No category was proposed."
ERR_BAD_CONFIDENCE = "The confidence {value!r} is not a number between 0 and 1."
ERR_LOW_CONFIDENCE = "Confidence {value:.2f} is below the threshold {threshold:.2f}."
ERR_BAD_FIELD = "The field {name!r} is missing or malformed."
ERR_HTTP = "HTTP {status} from the triage API: {body}"
ERR_NETWORK = "Network error calling the triage API: {error}"
ERR_BAD_RESPONSE = "The triage API returned an unexpected response: {error}"


class TriageTransientError(Exception):
    """Worth retrying: timeouts, connection errors, 429 and 5xx."""


class TriagePermanentError(Exception):
    """Retrying will not help (e.g. 401, 400): triage fails at once."""


class TriageRejected(Exception):
    """The answer cannot be trusted: the complaint goes to manual triage with this reason."""


@dataclass(frozen=True)
class TriageInput:
    description: str
    incident_place: str = ""
    incident_date: str = ""


@dataclass(frozen=True)
class TriageChoices:
    """code -> label for each reference table."""

    categories: dict[str, str]
    sectors: dict[str, str]
    acts: dict[str, str]


@dataclass(frozen=True)
class TriageResult:
    category: str
    sector: str | None
    act: str | None
    confidence: float
    summary: str
    details: dict = field(default_factory=dict)


class TriageBackend(Protocol):
    name: str
    model: str
    prompt_version: str

    def classify(self, *, text: TriageInput, choices: TriageChoices) -> dict: ...


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


_WHO = re.compile(
    r"\b(officer|clerk|inspector|constable|engineer|contractor|headmaster|principal|doctor|"
    r"patwari|talathi|official|minister|councillor|sarpanch|manager|he|she)\b",
    re.IGNORECASE,
)
_WHY = re.compile(r"\b(because|so that|in order to|for (the|my|a))\b", re.IGNORECASE)
_HOW = re.compile(r"\b(by|through|via|cash|paid|transfer|upi|envelope)\b", re.IGNORECASE)


class RuleBackend:
    """Scores each category by the weights of the rules whose pattern occurs in the text."""

    name = "rules"
    model = "keyword-rules"
    prompt_version = PROMPT_VERSION

    def __init__(self, *, rules):
        # rules: (pattern, category code, sector code | None, act code | None, weight)
        self.rules = [(re.compile(p, re.IGNORECASE), c, s, a, w) for p, c, s, a, w in rules]

    def classify(self, *, text: TriageInput, choices: TriageChoices) -> dict:
        sentences = _sentences(text.description)
        scores: dict[str, int] = {}
        sectors: dict[str, int] = {}
        acts: dict[tuple[str, str], int] = {}
        evidence: dict[str, str] = {}
        for pattern, category, sector, act, weight in self.rules:
            hit = next((s for s in sentences if pattern.search(s)), None)
            if hit is None:
                continue
            scores[category] = scores.get(category, 0) + weight
            evidence.setdefault(category, hit)
            if sector:
                sectors[sector] = sectors.get(sector, 0) + weight
            if act:
                acts[(category, act)] = acts.get((category, act), 0) + weight
        if not scores:
            return {
                "category": None,
                "sector": None,
                "act": None,
                "confidence": 0.0,
                "summary": "",
                **self._details(sentences, text, ""),
            }
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        category, top = ranked[0]
        total = sum(scores.values())
        confidence = round(min(1.0, top / 4) * (top / total), 2)
        sector = max(sectors.items(), key=lambda item: item[1])[0] if sectors else None
        own_acts = {a: w for (c, a), w in acts.items() if c == category}
        act = max(own_acts.items(), key=lambda item: item[1])[0] if own_acts else None
        what = evidence[category]
        return {
            "category": category,
            "sector": sector,
            "act": act,
            "confidence": confidence,
            "summary": f"{choices.categories.get(category, category)}: {what}"[:300],
            **self._details(sentences, text, what),
        }

    @staticmethod
    def _details(sentences: list[str], text: TriageInput, what: str) -> dict:
        def first(pattern):
            sentence = next((s for s in sentences if pattern.search(s)), "")
            return {"value": sentence[:200], "source": sentence}

        return {
            "who": first(_WHO),
            "what": {"value": what[:200], "source": what},
            "when": {"value": text.incident_date, "source": ""},
            "where": {"value": text.incident_place, "source": ""},
            "why": first(_WHY),
            "how": first(_HOW),
        }


def _schema(choices: TriageChoices) -> dict:
    part = {
        "type": "object",
        "properties": {"value": {"type": "string"}, "source": {"type": "string"}},
        "required": ["value", "source"],
        "additionalProperties": False,
    }
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    return {
        "type": "object",
        "properties": {
            **{name: part for name in FIVE_W_ONE_H},
            "category": {"type": "string", "enum": sorted(choices.categories)},
            "sector": nullable,
            "act": nullable,
            "confidence": {"type": "number"},
            "summary": {"type": "string"},
        },
        "required": [*FIVE_W_ONE_H, "category", "sector", "act", "confidence", "summary"],
        "additionalProperties": False,
    }


SYSTEM_PROMPT = (
    "You triage complaints sent to an anti-corruption agency. Answer with JSON only, following "
    "the schema. For who, what, when, where, why and how give a short value and the exact "
    "sentence of the complaint it came from (empty strings when the complaint does not say). "
    "Choose category, sector and act only from these codes; use null for sector or act when "
    "none fits. confidence is your probability (0 to 1) that the category is right. summary: "
    "at most two sentences, neutral, no names.\n"
    "Categories: {categories}\nSectors: {sectors}\nActs: {acts}"
)


def _codes(table: dict[str, str]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in table.items())


class OpenAIBackend:
    """An OpenAI-compatible /chat/completions endpoint asked for strict JSON."""

    name = "openai"
    prompt_version = PROMPT_VERSION

    def __init__(self, *, api_base: str, api_key: str, model: str, timeout: float):
        self.url = api_base.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.timeout = timeout

    def classify(self, *, text: TriageInput, choices: TriageChoices) -> dict:
        system = SYSTEM_PROMPT.format(
            categories=_codes(choices.categories),
            sectors=_codes(choices.sectors),
            acts=_codes(choices.acts),
        )
        user = (
            f"Incident date: {text.incident_date or 'not given'}\n"
            f"Incident place: {text.incident_place or 'not given'}\n"
            f"Complaint:\n{text.description}"
        )
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "triage", "strict": True, "schema": _schema(choices)},
            },
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as error:
            message = ERR_HTTP.format(
                status=error.code, body=error.read(300).decode(errors="replace")
            )
            if error.code == 429 or error.code >= 500:
                raise TriageTransientError(message) from None
            raise TriagePermanentError(message) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise TriageTransientError(ERR_NETWORK.format(error=error)) from None
        except ValueError as error:
            raise TriageTransientError(ERR_BAD_RESPONSE.format(error=error)) from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as error:
            raise TriageTransientError(ERR_BAD_RESPONSE.format(error=error)) from None
        try:
            return json.loads(content)
        except (TypeError, ValueError) as error:
            raise TriageRejected(ERR_NOT_JSON.format(error=error)) from None


def answer_validate(answer, *, choices: TriageChoices, min_confidence: float) -> TriageResult:
    """Accept an answer only if every code is in the tables and the confidence is enough."""
    if not isinstance(answer, dict):
        raise TriageRejected(ERR_NOT_AN_OBJECT)
    category = answer.get("category")
    if not category:
        raise TriageRejected(ERR_NO_CATEGORY)
    for kind, table in (
        ("category", choices.categories),
        ("sector", choices.sectors),
        ("act", choices.acts),
    ):
        code = answer.get(kind)
        if code is not None and code not in table:
            raise TriageRejected(ERR_UNKNOWN_CODE.format(kind=kind, code=code))
    confidence = answer.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise TriageRejected(ERR_BAD_CONFIDENCE.format(value=confidence))
    if not 0 <= confidence <= 1:
        raise TriageRejected(ERR_BAD_CONFIDENCE.format(value=confidence))
    if confidence < min_confidence:
        raise TriageRejected(ERR_LOW_CONFIDENCE.format(value=confidence, threshold=min_confidence))
    details = {}
    for name in FIVE_W_ONE_H:
        part = answer.get(name)
        if not isinstance(part, dict) or not all(
            isinstance(part.get(key), str) for key in ("value", "source")
        ):
            raise TriageRejected(ERR_BAD_FIELD.format(name=name))
        details[name] = {"value": part["value"][:300], "source": part["source"][:1000]}
    summary = answer.get("summary")
    if not isinstance(summary, str):
        raise TriageRejected(ERR_BAD_FIELD.format(name="summary"))
    return TriageResult(
        category=category,
        sector=answer.get("sector"),
        act=answer.get("act"),
        confidence=float(confidence),
        summary=summary[:1000],
        details=details,
    )
