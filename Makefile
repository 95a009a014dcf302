# Crowdproof: `make run` brings the whole app up, `make test` runs the tests.
# Both start embedded PostgreSQL and Valkey when DATABASE_URL / REDIS_URL are not set.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
MANAGE := $(PY) manage.py

.PHONY: run cluster test lint fmt messages compilemessages migrations-check check-deploy bench bench-quick drill clean help
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

compilemessages: .venv/.synced ## compile locale/*.po into .mo (pure Python, no gettext needed)
	@$(PY) -m babel.messages.frontend compile --directory locale --domain django --statistics

run: .venv/.synced compilemessages ## start everything: services, migrations, demo data, web + worker
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(MANAGE) serve $(ARGS)

cluster: .venv/.synced compilemessages ## scale-out on loopback: 2 web nodes behind HAProxy, PostgreSQL + standby, Valkey + Sentinel
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(MANAGE) cluster $(ARGS)

test: .venv/.synced compilemessages ## run the test suite on real PostgreSQL and Valkey
	$(PY) -m pytest $(ARGS)

bench: .venv/.synced compilemessages ## load scenarios on the real stack, with ceilings and data checks; exit 1 on a failed data check (~10 min)
	$(PY) -m bench.run $(ARGS)

bench-quick: .venv/.synced compilemessages ## the same scenarios on small data and short runs (< 3 min)
	$(PY) -m bench.run --quick $(ARGS)

drill: .venv/.synced compilemessages ## kill each part of `serve` under load; exit 1 on loss or no recovery (~3 min)
	$(PY) -m bench.drill $(ARGS)

lint: .venv/.synced ## ruff lint and format check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

fmt: .venv/.synced ## ruff fix and format
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

migrations-check: .venv/.synced ## fail if a model change has no migration (on the real database)
	$(PY) -m pytest -q tests/core/test_migrations.py

messages: .venv/.synced ## extract translatable strings into locale/*/django.po (needs gettext)
	$(MANAGE) makemessages --locale ms --locale hi --no-obsolete \
		--ignore ".venv/*" --ignore ".tools/*" --ignore ".data/*" --ignore "staticfiles/*" \
		--ignore "bench/*" --ignore "tests/*"

check-deploy: .venv/.synced ## Django's deployment checklist with production-like values
	DJANGO_DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	COMPLAINTS_VAULT_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	COMPLAINTS_VAULT_INDEX_KEYS=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))') \
	ALLOWED_HOSTS=crowdproof.example.org $(MANAGE) check --deploy --fail-level WARNING

clean: ## remove the virtualenv, embedded data and build output
	rm -rf .venv .tools .data staticfiles
