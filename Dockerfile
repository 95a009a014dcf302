# syntax=docker/dockerfile:1
# Production image: gunicorn + whitenoise; the same image runs the RQ worker
# (`python manage.py rqworker high default low --with-scheduler`).
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
# Static files and message catalogues are built here, never committed.
RUN DJANGO_DEBUG=false SECRET_KEY=build-only .venv/bin/python manage.py collectstatic --noinput \
 && .venv/bin/python -m babel.messages.frontend compile --directory locale --domain django

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app crowdproof
WORKDIR /app
COPY --from=build --chown=crowdproof /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 DJANGO_DEBUG=false
USER crowdproof
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
