# syntax=docker/dockerfile:1
# Two stages: the builder resolves nothing, it installs what uv.lock pins (every file checked against its
# hash) into a virtual environment, building any wheel that needs a compiler; the final image gets only that
# environment, on a slim base without compilers or build tools.

FROM python:3.11-bookworm AS builder
COPY requirements/uv.txt /tmp/uv.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/uv.txt
ENV UV_PROJECT_ENVIRONMENT=/opt/sipvakt \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
# Dependencies first, so that a change to the code alone reuses this layer.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN uv sync --locked --no-install-project --no-editable
COPY scheduler scheduler
COPY notifiers notifiers
# The message catalogs are compiled here, so the image holds the .mo files that the texts are read from.
RUN /opt/sipvakt/bin/pybabel compile --domain messages --directory notifiers/locale
COPY calendars calendars
COPY config config
COPY service service
RUN uv sync --locked --no-editable

FROM python:3.11-slim-bookworm
# tini is PID 1: it passes SIGTERM on to the service, which then shuts down cleanly, and reaps orphans.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/sipvakt --create-home --shell /usr/sbin/nologin sipvakt
COPY --from=builder /opt/sipvakt /opt/sipvakt
ENV PATH=/opt/sipvakt/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SIPVAKT_DATA_DIR=/var/lib/sipvakt \
    SIPVAKT_HTTP_HOST=0.0.0.0 \
    SIPVAKT_HTTP_PORT=8080
USER 10001
WORKDIR /var/lib/sipvakt
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SIPVAKT_HTTP_PORT', '8080') + '/v1/health', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["sipvakt", "serve"]
