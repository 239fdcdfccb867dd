#!/usr/bin/env bash
# Stops what setup.sh / healthloop.sh started, by their recorded PIDs only: the health loop and the
# podman API service. Containers are not touched (run `docker-compose --profile <spike> down -v`
# first); images and the storage in $SPIKEBENCH_PODMAN_DIR are kept for the next run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_recorded healthloop "$HEALTH_PID_FILE" "healthloop.sh run"
stop_recorded service "$SERVICE_PID_FILE" "$SOCKET"
rm -f "$SOCKET"

if command -v podman >/dev/null && [[ -f $CONTAINERS_STORAGE_CONF ]]; then
    left=$(podman ps -q 2>/dev/null || true)
    if [[ -n $left ]]; then
        log "still running (stop them with docker-compose down, or podman stop):"
        podman ps --format '  {{.ID}} {{.Names}} {{.Image}}' >&2
    fi
fi
