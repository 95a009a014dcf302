"""The records connector: configuration (settings.SYNC_CONNECTORS) and the HTTP client of the
Knack-style records API. Every call goes through the shared rate limiter and reports the
outcome as a value or one of the exceptions below; the delivery rules live in
services/delivery.py."""

import json
from dataclasses import dataclass, field
from functools import cached_property

import httpx
from django.conf import settings

from apps.sync.ratelimit import BudgetExhausted, RateLimiter, cooldown_from_headers

ERR_UNKNOWN_CONNECTOR = "Unknown connector {name!r}: configure it in settings.SYNC_CONNECTORS."
ERR_NO_MAPPING = "No mapping for aggregate type {aggregate_type!r} in connector {connector!r}."
ERR_NO_KEY_FIELD = "The mapping of {aggregate_type!r} does not map external_key to a field."
KEY_PAYLOAD_FIELD = "external_key"
ROWS_PER_PAGE = 1000  # the remote's maximum


class TransientError(Exception):
    """5xx, timeout, connection error: retried with capped exponential backoff."""


class RejectedError(Exception):
    """Any other 4xx: the event is dead, with the response kept."""

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class NotFoundError(RejectedError):
    pass


@dataclass(frozen=True)
class ObjectMapping:
    remote_object: str
    fields: dict[str, str]  # payload key -> field_N

    @property
    def key_field(self) -> str:
        return self.fields[KEY_PAYLOAD_FIELD]

    def to_fields(self, payload: dict) -> dict:
        """Only mapped keys are sent; the rest of the payload stays ours."""
        return {f: payload[key] for key, f in self.fields.items() if key in payload}

    def from_record(self, record: dict) -> dict:
        return {f: record[f] for f in self.fields.values() if f in record}


@dataclass(frozen=True)
class ConnectorConfig:
    name: str
    base_url: str
    app_id: str
    api_key: str
    rate_per_second: float
    daily_reserve: int
    mapping: dict = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.app_id and self.api_key)

    def object_for(self, aggregate_type: str) -> ObjectMapping:
        entry = self.mapping.get(aggregate_type)
        if not entry:
            raise LookupError(
                ERR_NO_MAPPING.format(aggregate_type=aggregate_type, connector=self.name)
            )
        if KEY_PAYLOAD_FIELD not in entry["fields"]:
            raise LookupError(ERR_NO_KEY_FIELD.format(aggregate_type=aggregate_type))
        return ObjectMapping(remote_object=entry["object"], fields=dict(entry["fields"]))

    def objects(self) -> list[ObjectMapping]:
        return [self.object_for(aggregate_type) for aggregate_type in self.mapping]


def connector_config(name: str) -> ConnectorConfig:
    try:
        raw = settings.SYNC_CONNECTORS[name]
    except KeyError:
        raise LookupError(ERR_UNKNOWN_CONNECTOR.format(name=name)) from None
    return ConnectorConfig(
        name=name,
        base_url=raw["BASE_URL"].rstrip("/"),
        app_id=raw["APP_ID"],
        api_key=raw["API_KEY"],
        rate_per_second=raw["RATE_PER_SECOND"],
        daily_reserve=raw["DAILY_RESERVE"],
        mapping=raw["MAPPING"],
    )


def connector_names() -> list[str]:
    return list(settings.SYNC_CONNECTORS)


class RecordsClient:
    """One HTTP client per delivery job (keep-alive), calls spaced by the shared limiter.

    `exchange` holds the request and response of the last call, for the admin."""

    def __init__(self, config: ConnectorConfig, *, daily_reserve: int | None = None):
        self.config = config
        self.limiter = RateLimiter(
            connector=config.name,
            rate_per_second=config.rate_per_second,
            daily_reserve=config.daily_reserve if daily_reserve is None else daily_reserve,
        )
        self.exchange: dict = {}

    @cached_property
    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.config.base_url,
            timeout=settings.SYNC_HTTP_TIMEOUT,
            headers={
                "X-Knack-Application-Id": self.config.app_id,
                "X-Knack-REST-API-KEY": self.config.api_key,
            },
        )

    def last_exchange(self) -> dict:
        """The request and response of the last call, as OutboxEvent fields."""
        return {
            "last_request": self.exchange.get("request"),
            "last_response": self.exchange.get("response"),
        }

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()

    def _call(self, method: str, path: str, *, body=None, params=None) -> dict:
        """One call, retried here only after a 429 short enough to sleep through (a 429 is
        not a failed attempt); longer ones raise CoolingDown from the limiter."""
        while True:
            self.limiter.acquire()
            self.exchange = {"request": {"method": method, "path": path, "body": body}}
            try:
                response = self.http.request(method, path, json=body, params=params)
            except httpx.HTTPError as error:  # timeouts, refused and dropped connections
                self.exchange["response"] = {"error": f"{type(error).__name__}: {error}"}
                raise TransientError(self.exchange["response"]["error"]) from error
            self.exchange["response"] = {"status": response.status_code, "body": response.text}
            self._read_quota(response.headers)
            if response.status_code == 429 and response.headers.get("X-PlanLimit-Remaining") == "0":
                raise BudgetExhausted(int(response.headers.get("X-PlanLimit-Reset", 0)) / 1000)
            # A 429, or this second's calls all used (clock jitter between our spacing and
            # the remote's window): every worker waits for the window to reset.
            if response.status_code == 429 or response.headers.get("X-RateLimit-Remaining") == "0":
                self.limiter.cool_down(
                    cooldown_from_headers(response.headers, fallback=settings.SYNC_COOLDOWN_SECONDS)
                )
            if response.status_code != 429:
                break
        if response.status_code >= 500:
            raise TransientError(f"HTTP {response.status_code}")
        if response.status_code == 404:
            raise NotFoundError(404, response.text)
        if response.status_code >= 400:
            raise RejectedError(response.status_code, response.text)
        try:
            return response.json()
        except ValueError as error:  # a garbled answer: try again later
            raise TransientError(f"HTTP {response.status_code}: not JSON") from error

    def _read_quota(self, headers) -> None:
        remaining, reset = headers.get("X-PlanLimit-Remaining"), headers.get("X-PlanLimit-Reset")
        if remaining is None or reset is None:
            return
        self.limiter.budget_update(remaining=int(remaining), reset_in=int(reset) / 1000)

    # --- The records API ----------------------------------------------------------------
    def _records_path(self, remote_object: str, remote_id: str = "") -> str:
        return f"/v1/objects/{remote_object}/records" + (f"/{remote_id}" if remote_id else "")

    def create(self, remote_object: str, fields: dict) -> str:
        return self._call("POST", self._records_path(remote_object), body=fields)["id"]

    def update(self, remote_object: str, remote_id: str, fields: dict) -> None:
        self._call("PUT", self._records_path(remote_object, remote_id), body=fields)

    def find(self, mapping: ObjectMapping, external_key: str) -> str | None:
        """The id of the record holding our external key, or None."""
        rules = [{"field": mapping.key_field, "operator": "is", "value": external_key}]
        page = self._call(
            "GET",
            self._records_path(mapping.remote_object),
            params={"filters": json.dumps({"match": "and", "rules": rules}), "rows_per_page": 1},
        )
        return page["records"][0]["id"] if page["records"] else None

    def pages(self, remote_object: str):
        """Yield (page, total_pages, records) through every record, 1,000 at a time."""
        number, total = 1, 1
        while number <= total:
            page = self._call(
                "GET",
                self._records_path(remote_object),
                params={"rows_per_page": ROWS_PER_PAGE, "page": number},
            )
            total = page["total_pages"]
            yield number, total, page["records"]
            number += 1
