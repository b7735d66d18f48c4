# shellcheck shell=bash
# Shared by script/docker-test and script/test-homeassistant (sourced, not run): a Docker engine,
# and base images where the public ones cannot be pulled. The sourcing script sets script_name
# (for messages) first.
script_name="${script_name:-${0##*/}}"

log() { echo "==> $*" >&2; }
fail() {
    echo "${script_name}: FAILED: $*" >&2
    exit 1
}
# Exit status 3: no Docker engine answers and none could be started here (nothing was checked).
no_engine() {
    echo "${script_name}: no Docker engine: $*" >&2
    exit 3
}

# ensure_engine: a Docker engine that answers; as root on Debian, install docker.io and start
# dockerd with the vfs storage driver (which works inside containers and VMs without overlayfs).
ensure_engine() {
    if docker info >/dev/null 2>&1; then
        return
    fi
    if [[ "$(id -u)" != 0 ]]; then
        no_engine "none answers, and only root can start one here"
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        log "installing docker.io"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >/dev/null \
            || no_engine "apt-get install docker.io failed"
    fi
    log "starting dockerd (vfs storage driver)"
    nohup dockerd --storage-driver=vfs >/var/log/wyoming-kokoro-dockerd.log 2>&1 &
    for _ in $(seq 60); do
        if docker info >/dev/null 2>&1; then
            return
        fi
        sleep 1
    done
    no_engine "dockerd did not answer within 60 s ($(tail -n 3 /var/log/wyoming-kokoro-dockerd.log | tr '\n' ' '))"
}

# make_standin SUITE: Debian SUITE with its Python, headers and venv, like python:3.X-slim-SUITE
# (whose Python has its headers too); built once, as wyoming-kokoro-standin:SUITE.
make_standin() {
    local suite="$1"
    standin="wyoming-kokoro-standin:${suite}"
    if docker image inspect "${standin}" >/dev/null 2>&1; then
        return
    fi
    log "making ${standin} with debootstrap (the public base images cannot be pulled)"
    if ! command -v debootstrap >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null
    fi
    local root
    root="$(mktemp -d /var/tmp/wyoming-kokoro-rootfs.XXXXXX)"
    chmod 0755 "${root}" # it becomes the image's /, which every user must be able to enter
    debootstrap --variant=minbase "${suite}" "${root}" http://deb.debian.org/debian >/dev/null
    cp /etc/resolv.conf "${root}/etc/resolv.conf"
    chroot "${root}" apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive chroot "${root}" apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev ca-certificates >/dev/null
    chroot "${root}" apt-get clean
    rm -rf "${root}"/var/lib/apt/lists/* "${root}/etc/resolv.conf"
    ln -sf /usr/bin/python3 "${root}/usr/local/bin/python"
    # This machine reaches its registries through a proxy with its own CA: give the stand-in the
    # host's CA bundle, and pip the host's index settings that apply inside a container.
    cp /etc/ssl/certs/ca-certificates.crt "${root}/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"${root}/etc/pip.conf"
    tar -C "${root}" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "${standin}" >/dev/null
    rm -rf "${root}"
}

# resolve_base IMAGE: print IMAGE if it is here or can be pulled, else a local stand-in for the
# Debian release its tag names.
resolve_base() {
    local image="$1" suite
    if docker image inspect "${image}" >/dev/null 2>&1 \
        || timeout 60 docker pull --quiet "${image}" >/dev/null 2>&1; then
        echo "${image}"
        return
    fi
    case "${image}" in
        *trixie*) suite="trixie" ;;
        *bookworm*) suite="bookworm" ;;
        *) fail "${image} cannot be pulled, and its tag names no Debian release to stand in for" ;;
    esac
    make_standin "${suite}"
    echo "${standin}"
}

# image_id TAG: the image TAG names now, or nothing.
image_id() {
    docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# drop_replaced_image OLD_ID TAG: after TAG was rebuilt, remove the image it named before (OLD_ID,
# now untagged) unless something still uses it. With the vfs storage driver every image is whole
# copies of its layers, so each rebuild would otherwise leave gigabytes behind.
drop_replaced_image() {
    local old="$1" tag="$2"
    if [[ -n "${old}" && "${old}" != "$(image_id "${tag}")" ]]; then
        docker rmi "${old}" >/dev/null 2>&1 || true
    fi
}
