# syntax=docker/dockerfile:1
# One image recipe for the three services, chosen by the SERVICE build argument. Build from the
# repository root (the context needs uv.lock, contracts/ and libs/servicekit):
#   docker build --build-arg SERVICE=identity -t pwreset/identity .
#   docker build --build-arg SERVICE=reset    -t pwreset/reset .
#   docker build --build-arg SERVICE=notifier -t pwreset/notifier .
#
# The base is pinned by tag. For reproducible production builds pin it by digest as well
# (python:3.11-slim-bookworm@sha256:...); the digest is left to the release pipeline, which can
# resolve and record it, because none can be resolved where this file was written.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment holding the service and exactly the locked dependencies ---
FROM ${PYTHON_IMAGE} AS build
# uv from the package index, pinned; the same version that wrote uv.lock.
ARG UV_VERSION=0.13.9
# identity, reset or notifier; a build without it (or with another name) stops here.
ARG SERVICE
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN case "${SERVICE}" in identity|reset|notifier) ;; \
      *) echo "build with --build-arg SERVICE=identity|reset|notifier" >&2; exit 1 ;; esac
RUN pip install "uv==${UV_VERSION}"
WORKDIR /src
# uv needs every workspace member's pyproject.toml to read the workspace, even the members it
# does not install; the dependencies layer below is then cached until one of these changes.
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY tools/devinfra/pyproject.toml tools/devinfra/
COPY services/identity/pyproject.toml services/identity/
COPY services/reset/pyproject.toml services/reset/
COPY services/notifier/pyproject.toml services/notifier/
RUN uv sync --frozen --no-dev --no-install-workspace --package "pwreset-${SERVICE}"
# Then the code this service imports, installed as real packages (not editable links to /src).
COPY contracts/ contracts/
COPY libs/servicekit/ libs/servicekit/
COPY services/${SERVICE}/ services/${SERVICE}/
# One entrypoint name in every image (service), linked to the service's own command line.
RUN uv sync --frozen --no-dev --no-editable --package "pwreset-${SERVICE}" \
    && ln -s "${SERVICE}-service" /opt/venv/bin/service

# --- runtime: the slim base, the venv, no build tools, a fixed non-root user ---
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="pwreset-${SERVICE}"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin app
# Owned by root and read-only for the app user: the code cannot be rewritten at run time.
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8000
# No curl in the slim image: the interpreter asks /healthz/live itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/healthz/live', timeout=2); sys.exit(0 if r.status == 200 else 1)"]
ENTRYPOINT ["service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
