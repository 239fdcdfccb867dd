#!/usr/bin/env bash
# Containers smoke test (`make test-containers`): the project's container files, for real, on a
# machine without Docker (rootful podman through its Docker socket, see README.md here).
#
#   1. setup.sh: packages, base-image stand-ins, the podman API service
#   2. build every spike image and the Locust image (docker-compose build)
#   3. compose up postgres + ONE spike; the `seed` service loads the conformance suite's seed
#   4. the conformance suite over HTTP against that container (external-target mode)
#   5. the `loadgen` profile: a Locust master + 2 worker containers against it, a few seconds
#   6. compose down; a --quick bench of one scenario through the compose runtime
#      (tests/test_containers.py: valid run.json, nothing of its project left)
#   7. teardown, and a check that nothing is left running: containers, health loop, API service
#
# Environment: SPIKEBENCH_SMOKE_SPIKE (default flask), SPIKEBENCH_PODMAN_DIR (setup.sh).
# Prints the time of each step; exit status non-zero on any failure (cleanup runs regardless).
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

SPIKE=${SPIKEBENCH_SMOKE_SPIKE:-flask}
PY=${SPIKEBENCH_PYTHON:-$REPO_ROOT/.venv/bin/python}
PROJECT="spikebench-smoke-$$"
TEST_USERS=20 TEST_ITEMS=5 # tests/conftest.py: TEST_USERS, TEST_ITEMS_PER_USER
START=$SECONDS
STEP_START=$SECONDS
SERVICE_WAS_RUNNING=0
HEALTH_WAS_RUNNING=0
TIMINGS=()

step() {
    TIMINGS+=("$(printf '%-44s %4d s' "$CURRENT" $((SECONDS - STEP_START)))")
    CURRENT=$1
    STEP_START=$SECONDS
    log "== $1"
}
CURRENT="start"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

compose() { docker-compose -p "$PROJECT" "$@"; }

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$? left
    trap - EXIT
    set +e
    step "teardown and leftovers check"
    if [[ -n ${DOCKER_HOST:-} ]]; then
        compose --profile "$SPIKE" --profile loadgen down -v -t 10 >/dev/null 2>&1
    fi
    ((HEALTH_WAS_RUNNING)) || "$PODMAN_CI_DIR/healthloop.sh" stop
    ((SERVICE_WAS_RUNNING)) || "$PODMAN_CI_DIR/teardown.sh"
    # nothing of ours may be left: this script's project and the compose runtime's projects
    if command -v podman >/dev/null; then
        left=$(podman ps -a --format '{{.ID}} {{.Labels}}' 2>/dev/null |
            grep -E "com.docker.compose.project:(spikebench-smoke-$$|spikebench-[0-9]+-)" || true)
        if [[ -n $left ]]; then
            log "containers left behind:"
            printf '%s\n' "$left" >&2
            rc=1
        fi
    fi
    if ! ((HEALTH_WAS_RUNNING)) && recorded_pid "$HEALTH_PID_FILE" "healthloop.sh run" >/dev/null; then
        log "the health loop is still running"
        rc=1
    fi
    if ! ((SERVICE_WAS_RUNNING)) && recorded_pid "$SERVICE_PID_FILE" "$SOCKET" >/dev/null; then
        log "the podman API service is still running"
        rc=1
    fi
    step "done"
    printf '[containers] %s\n' "${TIMINGS[@]:1}" >&2
    printf '[containers] %-44s %4d s\n' "total" $((SECONDS - START)) >&2
    if ((rc == 0)); then
        log "containers smoke test passed; nothing left running"
    else
        log "containers smoke test FAILED (exit $rc)"
    fi
    exit "$rc"
}
trap cleanup EXIT

step "setup (packages, base images, API service)"
# another session's service / health loop (a developer's shell): leave them running afterwards
recorded_pid "$SERVICE_PID_FILE" "$SOCKET" >/dev/null && SERVICE_WAS_RUNNING=1
recorded_pid "$HEALTH_PID_FILE" "healthloop.sh run" >/dev/null && HEALTH_WAS_RUNNING=1
eval "$("$PODMAN_CI_DIR/setup.sh")"

step "build spike images and the Locust image"
mapfile -t SPIKES < <(find spikes -mindepth 2 -maxdepth 2 -name spike.toml -printf '%h\n' | xargs -n1 basename | sort)
profiles=()
for s in "${SPIKES[@]}"; do profiles+=(--profile "$s"); done
compose "${profiles[@]}" --profile loadgen build "${SPIKES[@]}" locust-master >&2
podman image prune -f >/dev/null # layers of earlier builds of the same tags (disk is shared)
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'spikebench-|postgres|python' >&2

step "compose up postgres + $SPIKE, seed"
SPIKEBENCH_PG_PORT=$(free_port)
SPIKEBENCH_SPIKE_PORT=$(free_port)
SPIKEBENCH_LOCUST_PORT=$(free_port)
SPIKEBENCH_LOCUST_RPC_PORT=$(free_port)
export SPIKEBENCH_PG_PORT SPIKEBENCH_SPIKE_PORT SPIKEBENCH_LOCUST_PORT SPIKEBENCH_LOCUST_RPC_PORT
"$PODMAN_CI_DIR/healthloop.sh" start
compose --profile "$SPIKE" up -d >&2
for ((i = 0; i < 120; i++)); do
    curl -fsS "http://127.0.0.1:$SPIKEBENCH_SPIKE_PORT/health" >/dev/null 2>&1 && break
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$SPIKEBENCH_SPIKE_PORT/health" >&2 || {
    compose logs --tail 50 >&2
    exit 1
}
echo >&2
# the conformance suite's seed, through the compose `seed` service (the suite checks it)
SPIKEBENCH_SEED_USERS=$TEST_USERS SPIKEBENCH_SEED_ITEMS=$TEST_ITEMS \
    compose --profile loadgen run --rm seed >&2

step "conformance suite over HTTP ($SPIKE container)"
SPIKEBENCH_CONFORMANCE_URL="http://127.0.0.1:$SPIKEBENCH_SPIKE_PORT" \
    SPIKEBENCH_CONFORMANCE_DATABASE_URL="postgresql://spikebench:spikebench@127.0.0.1:$SPIKEBENCH_PG_PORT/spikebench" \
    SPIKEBENCH_CONFORMANCE_SPIKE="$SPIKE" \
    "$PY" -m pytest -q -p no:cacheprovider -m "not slow" tests/conformance

step "loadgen profile: Locust master + 2 workers"
out=$(SPIKEBENCH_LOCUST_WORKERS=2 SPIKEBENCH_LOCUST_RUN_TIME=5s SPIKEBENCH_LOCUST_USERS=4 \
    SPIKEBENCH_LOCUST_SPAWN_RATE=4 SPIKEBENCH_SEED_USERS=$TEST_USERS SPIKEBENCH_SEED_ITEMS=$TEST_ITEMS \
    timeout 180 docker-compose -p "$PROJECT" --profile loadgen up --no-color --scale locust-worker=2 \
    locust-master locust-worker 2>&1)
printf '%s\n' "$out" | grep -E 'workers connected|Aggregated|exited with code' >&2
# "Aggregated <requests> <failures>(<pct>)": requests were made, none failed
printf '%s\n' "$out" | grep -qE 'Aggregated +[1-9][0-9]* +0\(0\.00%\)' || {
    printf '%s\n' "$out" | tail -40 >&2
    log "the distributed Locust run made no requests or had failures"
    exit 1
}

step "compose down"
compose --profile "$SPIKE" --profile loadgen down -v -t 10 >&2
((HEALTH_WAS_RUNNING)) || "$PODMAN_CI_DIR/healthloop.sh" stop # the bench needs no healthchecks

step "quick bench through the compose runtime"
SPIKEBENCH_CONTAINERS=1 SPIKEBENCH_SMOKE_SPIKE="$SPIKE" \
    "$PY" -m pytest -q -p no:cacheprovider tests/test_containers.py

exit 0 # cleanup (the EXIT trap) tears down, checks for leftovers and prints the timings
