#!/usr/bin/env bash
# Container entry point: turns KOKORO_* environment variables into wyoming-kokoro flags.
#
#   docker run IMAGE                      serve with /config/config.yaml (if present) and KOKORO_* flags
#   docker run IMAGE --voice bf_emma      the same, plus these flags (they win over KOKORO_* values)
#   docker run IMAGE serve --voice bf_emma  the same
#   docker run IMAGE voices               any wyoming-kokoro subcommand, arguments passed as given
#   docker run IMAGE bash                 any other program on PATH
#   docker run IMAGE --print-command ...  print the command instead of running it (for checks and tests)
#
# Variables (unset or empty = leave it to the config file):
#   KOKORO_CONFIG (default /config/config.yaml, used when the file exists), KOKORO_URI, KOKORO_VOICE,
#   KOKORO_SPEED, KOKORO_DEVICE (auto|cuda|cpu), KOKORO_THREADS, KOKORO_MODEL, KOKORO_VOICES,
#   KOKORO_HTTP (e.g. tcp://0.0.0.0:8880), KOKORO_LOG_LEVEL, KOKORO_ZEROCONF (0/false/no/off turns
#   discovery off), KOKORO_ZEROCONF_NAME, KOKORO_DEBUG (1/true/yes/on).
set -euo pipefail

program="wyoming-kokoro"
subcommands=" fetch assets voices synth healthcheck build-float-model "

print_only=0
if [[ "${1:-}" == "--print-command" ]]; then
    print_only=1
    shift
fi

is_false() { [[ "${1,,}" =~ ^(0|false|no|off)$ ]]; }
is_true() { [[ "${1,,}" =~ ^(1|true|yes|on)$ ]]; }

if [[ "${1:-}" == "serve" ]]; then
    shift
fi

cmd=()
if [[ $# -gt 0 && "$1" != -* ]]; then
    if [[ "${subcommands}" == *" $1 "* ]] || ! command -v "$1" >/dev/null 2>&1; then
        # A subcommand (or a word the CLI should reject with its own message).
        cmd=("${program}" "$@")
    else
        cmd=("$@")
    fi
else
    cmd=("${program}")
    config="${KOKORO_CONFIG:-}"
    if [[ -n "${config}" ]]; then
        cmd+=(--config "${config}") # set explicitly: a missing file is an error the server reports
    elif [[ -f /config/config.yaml ]]; then
        cmd+=(--config /config/config.yaml)
    fi
    add_flag() { # add_flag FLAG VALUE: only when VALUE is not empty
        if [[ -n "$2" ]]; then cmd+=("$1" "$2"); fi
    }
    add_flag --uri "${KOKORO_URI:-}"
    add_flag --voice "${KOKORO_VOICE:-}"
    add_flag --speed "${KOKORO_SPEED:-}"
    add_flag --device "${KOKORO_DEVICE:-}"
    add_flag --threads "${KOKORO_THREADS:-}"
    add_flag --model "${KOKORO_MODEL:-}"
    add_flag --voices "${KOKORO_VOICES:-}"
    add_flag --http "${KOKORO_HTTP:-}"
    add_flag --log-level "${KOKORO_LOG_LEVEL:-}"
    add_flag --zeroconf-name "${KOKORO_ZEROCONF_NAME:-}"
    if is_false "${KOKORO_ZEROCONF:-}"; then cmd+=(--no-zeroconf); fi
    if is_true "${KOKORO_DEBUG:-}"; then cmd+=(--debug); fi
    cmd+=("$@")
fi

if [[ "${print_only}" == "1" ]]; then
    quoted=()
    for arg in "${cmd[@]}"; do quoted+=("$(printf '%q' "${arg}")"); done
    echo "${quoted[*]}"
    exit 0
fi
exec "${cmd[@]}"
