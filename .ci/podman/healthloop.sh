#!/usr/bin/env bash
# Podman runs container healthchecks from systemd timers; without systemd the health of every
# container stays "starting" and `depends_on: condition: service_healthy` waits forever. This loop
# runs `podman healthcheck run` for each running container every SPIKEBENCH_HEALTH_INTERVAL seconds
# (default 2) instead.
#
#   healthloop.sh start    start in the background (PID in $SPIKEBENCH_PODMAN_DIR/healthloop.pid)
#   healthloop.sh stop     stop the recorded PID
#   healthloop.sh status   exit 0 if running
#   healthloop.sh run      run in the foreground (what `start` runs)
#
# Each round costs a few podman invocations (~0.1 s CPU each): during a measurement either raise
# SPIKEBENCH_HEALTH_INTERVAL or stop the loop once the stack is healthy.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SELF="$PODMAN_CI_DIR/healthloop.sh"
PATTERN="healthloop.sh run"
INTERVAL=${SPIKEBENCH_HEALTH_INTERVAL:-2}

run_loop() {
    local sleeper="" id
    trap '[[ -n $sleeper ]] && kill "$sleeper" 2>/dev/null; exit 0' TERM INT
    while :; do
        for id in $(podman ps -q --filter status=running 2>/dev/null); do
            # containers without a HEALTHCHECK answer with an error: ignore it
            podman healthcheck run "$id" >/dev/null 2>&1 || true
        done
        sleep "$INTERVAL" &
        sleeper=$!
        wait "$sleeper" || true
        sleeper=""
    done
}

case ${1:-start} in
    run)
        run_loop
        ;;
    start)
        if pid=$(recorded_pid "$HEALTH_PID_FILE" "$PATTERN"); then
            log "healthloop: running (PID $pid)"
            exit 0
        fi
        mkdir -p "$STATE_DIR"
        setsid "$SELF" run </dev/null >>"$HEALTH_LOG" 2>&1 &
        echo $! >"$HEALTH_PID_FILE"
        log "healthloop: started (PID $!, every ${INTERVAL} s, log $HEALTH_LOG)"
        ;;
    stop)
        stop_recorded healthloop "$HEALTH_PID_FILE" "$PATTERN"
        ;;
    status)
        if pid=$(recorded_pid "$HEALTH_PID_FILE" "$PATTERN"); then
            echo "running (PID $pid)"
        else
            echo "not running"
            exit 1
        fi
        ;;
    *)
        echo "usage: $0 [start|stop|status|run]" >&2
        exit 2
        ;;
esac
