# shellcheck shell=bash
# Shared by setup.sh, healthloop.sh and teardown.sh (sourced, not run).
# Everything podman writes lives in one state folder outside the repository.

PODMAN_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$PODMAN_CI_DIR/../.." && pwd)"

# A cache, not a scratch folder: the base-image stand-ins (~0.9 GB) are built once and reused.
STATE_DIR="$(realpath -m "${SPIKEBENCH_PODMAN_DIR:-/var/cache/spikebench-podman}")"
case "$STATE_DIR/" in
    "$REPO_ROOT"/*)
        echo "SPIKEBENCH_PODMAN_DIR ($STATE_DIR) must not be inside the repository ($REPO_ROOT)" >&2
        exit 2
        ;;
esac

export CONTAINERS_CONF="$STATE_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$STATE_DIR/storage.conf"
SOCKET="$STATE_DIR/podman.sock"
SERVICE_PID_FILE="$STATE_DIR/service.pid"
SERVICE_LOG="$STATE_DIR/service.log"
HEALTH_PID_FILE="$STATE_DIR/healthloop.pid"
HEALTH_LOG="$STATE_DIR/healthloop.log"
ENV_FILE="$STATE_DIR/env.sh"

log() { printf '[podman-ci] %s\n' "$*" >&2; }

# recorded_pid PIDFILE PATTERN: print the PID recorded in PIDFILE if that process is alive and its
# command line contains PATTERN (guards against a stale file naming a recycled PID).
recorded_pid() {
    local pidfile=$1 pattern=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
    printf '%s\n' "$pid"
}

# stop_recorded NAME PIDFILE PATTERN: SIGTERM the recorded process, wait up to 15 s, then SIGKILL it.
stop_recorded() {
    local name=$1 pidfile=$2 pattern=$3 pid i
    if ! pid=$(recorded_pid "$pidfile" "$pattern"); then
        log "$name: not running"
        rm -f "$pidfile"
        return 0
    fi
    log "$name: stopping PID $pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: PID $pid ignored SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
