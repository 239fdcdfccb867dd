#!/usr/bin/env bash
# Real containers without a Docker engine or a registry (CI / this machine kind only).
# Recipe: /work/shared/containers.md. See .ci/podman/README.md.
#
#   eval "$(.ci/podman/setup.sh)"      # or: .ci/podman/setup.sh && . /var/cache/spikebench-podman/env.sh
#   docker-compose --profile flask up -d --build
#   .ci/podman/healthloop.sh start     # podman has no systemd timers here: drives the healthchecks
#   ...
#   docker-compose --profile flask down -v
#   .ci/podman/teardown.sh
#
# Idempotent: installs only missing packages, builds a base-image stand-in only when it is absent
# (or its definition under .ci/podman/base/ changed), starts the API service only if it is not
# running. Stdout carries only the `export` lines; progress goes to stderr.
#
# Environment:
#   SPIKEBENCH_PODMAN_DIR      state folder, a cache reused between runs (default
#                              /var/cache/spikebench-podman; never inside the repo)
#   SPIKEBENCH_PODMAN_REBUILD  1 = rebuild every stand-in image even if present
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
# The spike Dockerfiles pin python:3.11-slim-bookworm; python:3.11-slim is the same image.
PYTHON_IMAGES=(docker.io/library/python:3.11-slim-bookworm docker.io/library/python:3.11-slim)
# Must match the image docker-compose.yml pins for the `postgres` service. Debian bookworm ships
# PostgreSQL 15, and the upstream image with that content is postgres:15-bookworm.
POSTGRES_IMAGE=docker.io/library/postgres:15-bookworm
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
STANDIN_LABEL=org.spikebench.standin

if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh must run as root (apt, debootstrap, rootful podman)" >&2
    exit 1
fi

# --- 1. packages ------------------------------------------------------------------------------
install_packages() {
    local pkg missing=()
    for pkg in podman runc debootstrap docker-compose; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "packages: podman runc debootstrap docker-compose already installed"
        return
    fi
    log "packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y "${missing[@]}" >&2
}

# --- 2. podman configuration ----------------------------------------------------------------
write_config() {
    mkdir -p "$STATE_DIR/storage/graph" "$STATE_DIR/storage/run"
    # podman's default ulimits (1048576) exceed root's hard limits here; nproc must stay <= conmon's
    # hard limit; crun refuses the hybrid cgroup layout, runc works; no systemd/journald.
    cat >"$CONTAINERS_CONF.tmp" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
    cat >"$CONTAINERS_STORAGE_CONF.tmp" <<EOF
[storage]
driver = "overlay"
graphroot = "$STATE_DIR/storage/graph"
runroot = "$STATE_DIR/storage/run"
EOF
    mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
    mv "$CONTAINERS_STORAGE_CONF.tmp" "$CONTAINERS_STORAGE_CONF"
    log "config: $CONTAINERS_CONF, $CONTAINERS_STORAGE_CONF"
}

# --- 3. base-image stand-ins ------------------------------------------------------------------
image_label() { podman image inspect --format "{{ index .Labels \"$2\" }}" "$1" 2>/dev/null; }

definition_hash() { # hash of a stand-in's build context (Dockerfile, entrypoint)
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

ROOTFS=""
cleanup_rootfs() {
    [[ -n $ROOTFS && -d $ROOTFS ]] || return 0
    local m
    # debootstrap mounts proc/sys inside the target; never delete through a mount.
    while read -r m; do umount -l "$m" 2>/dev/null || true; done \
        < <(findmnt -rn -o TARGET | grep -F "$ROOTFS/" | sort -r)
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup_rootfs EXIT

build_debian() {
    if [[ ${SPIKEBENCH_PODMAN_REBUILD:-0} != 1 ]] && podman image exists "$DEBIAN_IMAGE"; then
        log "image: $DEBIAN_IMAGE present"
        return 1 # nothing rebuilt
    fi
    local mirror start=$SECONDS
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    ROOTFS="$STATE_DIR/rootfs.tmp"
    cleanup_rootfs
    log "image: debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" >&2

    # apt sources like the host's (bookworm, -updates, -security) instead of debootstrap's one line
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        rm -f "$ROOTFS/etc/apt/sources.list"
        cp /etc/apt/sources.list.d/debian.sources "$ROOTFS/etc/apt/sources.list.d/debian.sources"
    fi
    # slim like the upstream image: no docs/man/locales, no package caches
    cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
    cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
    find "$ROOTFS/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
    find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$ROOTFS"/usr/share/{man,info,groff,linda,locale}/* "$ROOTFS"/var/cache/apt/archives/*.deb \
        "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/*
    # The TLS-intercepting proxy's CA: without it pip in a build fails with CERTIFICATE_VERIFY_FAILED.
    mkdir -p "$ROOTFS/usr/local/share/ca-certificates" "$ROOTFS/etc/ssl/certs"
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/" 2>/dev/null || true
    cp "$CA_BUNDLE" "$ROOTFS$CA_BUNDLE"

    log "image: importing $DEBIAN_IMAGE"
    tar --numeric-owner -C "$ROOTFS" -c . | podman import \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV PIP_CERT=$CA_BUNDLE" \
        --change "LABEL $STANDIN_LABEL=debootstrap-minbase-bookworm" \
        --change 'CMD ["bash"]' \
        - "$DEBIAN_IMAGE" >/dev/null
    cleanup_rootfs
    ROOTFS=""
    log "image: $DEBIAN_IMAGE built in $((SECONDS - start)) s"
    return 0
}

# build_standin FORCE CONTEXT TAG...: build unless present with the same definition hash
build_standin() {
    local force=$1 context=$2 hash start=$SECONDS tag tag_args=()
    shift 2
    hash=$(definition_hash "$context")
    if [[ $force != 1 && ${SPIKEBENCH_PODMAN_REBUILD:-0} != 1 ]] &&
        [[ $(image_label "$1" "$STANDIN_LABEL") == "$hash" ]]; then
        for tag in "${@:2}"; do podman image exists "$tag" || podman tag "$1" "$tag"; done
        log "image: $1 present"
        return
    fi
    for tag in "$@"; do tag_args+=(--tag "$tag"); done
    log "image: building $* from ${context#"$REPO_ROOT"/}"
    podman build --label "$STANDIN_LABEL=$hash" "${tag_args[@]}" "$context" >&2
    log "image: $1 built in $((SECONDS - start)) s"
}

build_images() {
    local rebuilt=0
    build_debian && rebuilt=1
    # a fresh debian base means the images on top of it must be rebuilt too
    build_standin "$rebuilt" "$PODMAN_CI_DIR/base/python" "${PYTHON_IMAGES[@]}"
    build_standin "$rebuilt" "$PODMAN_CI_DIR/base/postgres" "$POSTGRES_IMAGE"
}

# --- 4. Docker-compatible API service ---------------------------------------------------------
socket_answers() {
    [[ -S $SOCKET ]] && curl -fsS --max-time 2 --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1
}

start_service() {
    local pid i
    if pid=$(recorded_pid "$SERVICE_PID_FILE" "$SOCKET") && socket_answers; then
        log "service: running (PID $pid, unix://$SOCKET)"
        return
    fi
    if [[ -n ${pid:-} ]]; then
        log "service: PID $pid does not answer, restarting it"
        stop_recorded service "$SERVICE_PID_FILE" "$SOCKET"
    fi
    rm -f "$SOCKET"
    setsid podman system service --time=0 "unix://$SOCKET" </dev/null >>"$SERVICE_LOG" 2>&1 &
    echo $! >"$SERVICE_PID_FILE"
    for ((i = 0; i < 100; i++)); do
        socket_answers && break
        sleep 0.2
    done
    if ! socket_answers; then
        log "service: did not come up, see $SERVICE_LOG"
        exit 1
    fi
    log "service: started (PID $(<"$SERVICE_PID_FILE"), unix://$SOCKET, log $SERVICE_LOG)"
}

# --- 5. environment for docker-compose / docker -----------------------------------------------
write_env() {
    cat >"$ENV_FILE" <<EOF
export DOCKER_HOST=unix://$SOCKET
export COMPOSE_DOCKER_CLI_BUILD=0
export DOCKER_BUILDKIT=0
export CONTAINERS_CONF=$CONTAINERS_CONF
export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF
export SPIKEBENCH_PODMAN_DIR=$STATE_DIR
EOF
    log "env: written to $ENV_FILE (source it, or eval this script's output)"
    cat "$ENV_FILE"
}

mkdir -p "$STATE_DIR"
install_packages
write_config
build_images
start_service
write_env
