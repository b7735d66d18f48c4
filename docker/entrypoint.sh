#!/usr/bin/env bash
# Container entry point: picks the config file and the program; the server reads its settings itself.
#
#   docker run IMAGE                        serve (the default command)
#   docker run IMAGE --voice bf_emma        serve with these flags (they win over KOKORO_* variables)
#   docker run IMAGE serve --voice bf_emma  the same
#   docker run IMAGE voices                 any wyoming-kokoro subcommand, arguments passed as given
#   docker run IMAGE bash                   any other program on PATH
#   docker run IMAGE --print-command ...    print the command instead of running it (for checks and tests)
#
# Settings: /config/config.yaml when it exists (or the file KOKORO_CONFIG names), then every KOKORO_*
# variable (KOKORO_VOICE, KOKORO_HTTP__API_KEY, ...; see config/config.yaml), then flags.
set -euo pipefail

program="wyoming-kokoro"
subcommands=" fetch assets voices synth healthcheck build-float-model "

print_only=0
if [[ "${1:-}" == "--print-command" ]]; then
    print_only=1
    shift
fi

# A mounted /config without a config.yaml is fine: the defaults and KOKORO_* variables apply.
if [[ -z "${KOKORO_CONFIG:-}" && -f /config/config.yaml ]]; then
    export KOKORO_CONFIG=/config/config.yaml
fi

if [[ "${1:-}" == "serve" ]]; then
    shift
fi

if [[ $# -gt 0 && "$1" != -* ]] \
    && [[ "${subcommands}" != *" $1 "* ]] && command -v "$1" >/dev/null 2>&1; then
    cmd=("$@") # another program on PATH
else
    cmd=("${program}" "$@") # serve, a subcommand, or a word the CLI rejects with its own message
fi

if [[ "${print_only}" == "1" ]]; then
    quoted=()
    for arg in "${cmd[@]}"; do quoted+=("$(printf '%q' "${arg}")"); done
    echo "KOKORO_CONFIG=$(printf '%q' "${KOKORO_CONFIG:-}") ${quoted[*]}"
    exit 0
fi
exec "${cmd[@]}"
