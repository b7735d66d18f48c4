# syntax=docker/dockerfile:1
# wyoming-kokoro, CPU image.
#   docker build -t wyoming-kokoro .
#   docker run -d -p 10210:10210 -v kokoro-config:/config wyoming-kokoro
# The model and the 54 voices are fetched and checked (sha256) at build time with the same command
# as script/setup, so the container needs no network at run time.

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=22

# npm is needed only by `wyoming-kokoro fetch` (the voices come from `npm pack kokoro-js@1.2.1`).
FROM node:${NODE_VERSION}-bookworm-slim AS node

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
# A compiler for the few dependencies without a wheel on some architectures (mojimoji on arm64);
# this stage is thrown away, so it costs the final image nothing.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
ENV PATH=/opt/venv/bin:$PATH \
    WYOMING_KOKORO_CACHE=/cache \
    ORT_DISABLE_TELEMETRY=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY wyoming_kokoro ./wyoming_kokoro
# The project itself, with its pinned dependencies (DL3013 is about unpinned packages).
# hadolint ignore=DL3013
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install ".[cpu,cjk]"
RUN wyoming-kokoro fetch

FROM python:${PYTHON_VERSION}-slim-bookworm
ARG KOKORO_UID=10210
RUN groupadd --system --gid "${KOKORO_UID}" kokoro \
    && useradd --system --uid "${KOKORO_UID}" --gid kokoro --create-home --home-dir /home/kokoro kokoro \
    && install -d -o kokoro -g kokoro /config /cache
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=kokoro:kokoro /cache /cache
COPY --chown=kokoro:kokoro config/config.yaml /config/config.yaml
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    WYOMING_KOKORO_CACHE=/cache \
    ORT_DISABLE_TELEMETRY=1 \
    PYTHONUNBUFFERED=1
USER ${KOKORO_UID}:${KOKORO_UID}
WORKDIR /home/kokoro
VOLUME ["/config", "/cache"]
EXPOSE 10210
# A describe/info round trip, not a port check: healthy means Home Assistant would see voices.
HEALTHCHECK --start-period=2m --interval=30s --timeout=15s --retries=3 \
    CMD ["wyoming-kokoro", "healthcheck", "--uri", "tcp://127.0.0.1:10210", "--timeout", "10"]
ENTRYPOINT ["docker-entrypoint.sh"]
