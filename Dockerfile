# syntax=docker/dockerfile:1
# Parley's image: built with uv in one stage, run as a non-root user from a slim one.
# Both stages start from BASE: Docker Hub's Python by default; deploy/local.sh passes an image
# of the same shape built from Debian's own packages (where Docker Hub is out of reach) and
# runs the result. deploy/validate.sh also runs these steps as a script.

ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
# Dependencies first, in their own layer: code changes do not re-resolve them. The runtime
# ones only: not the dev or bench groups, which uv would otherwise sync by default.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-default-groups --no-install-project
COPY src ./src
RUN uv sync --frozen --no-default-groups --no-editable

FROM ${BASE}
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin parley \
    && mkdir -p /data && chown parley:parley /data
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PARLEY_DATA_DIR=/data
USER parley
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["parley", "serve", "--host", "0.0.0.0", "--port", "8000"]
