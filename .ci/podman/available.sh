#!/usr/bin/env bash
# Exit 0 when `make test` should run the containers smoke test (make test-containers), else say
# why not and how to enable it, and exit 1.
#
#   - podman (and runc, debootstrap, docker-compose) already installed, as root: run it; nothing
#     is installed.
#   - not installed: run it (setup.sh installs them with apt, ~400 MB) only when asked: in CI
#     (CI set, as .ci/run has it) or with CONTAINERS=1 (`make test CONTAINERS=1`), as root on
#     Debian. Otherwise print how to enable it.
#   - SPIKEBENCH_SKIP_CONTAINERS=1 opts out in every case.
set -euo pipefail

PACKAGES=(podman runc debootstrap docker-compose)

why_not() {
    echo "containers smoke test skipped: $*" >&2
    exit 1
}

asked() { # CI=true (or any value but empty/false/0), or CONTAINERS=1
    case "${CI:-}" in "" | false | 0) ;; *) return 0 ;; esac
    [[ ${CONTAINERS:-0} == 1 ]]
}

installed() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || return 1
    done
}

[[ ${SPIKEBENCH_SKIP_CONTAINERS:-0} != 1 ]] || why_not "SPIKEBENCH_SKIP_CONTAINERS=1"
if [[ $(id -u) -ne 0 ]]; then
    why_not "needs root (rootful podman); run \`sudo make test-containers\` to include it"
fi
command -v dpkg-query >/dev/null || why_not "not a Debian system (setup.sh uses apt and debootstrap)"
installed && exit 0
if asked; then
    command -v apt-get >/dev/null || why_not "no podman and no apt-get to install it"
    [[ -f /etc/debian_version ]] || why_not "not a Debian system (setup.sh uses debootstrap)"
    exit 0
fi
why_not "podman is not installed. \`make test CONTAINERS=1\` installs ${PACKAGES[*]} with apt" \
    "(~400 MB) and runs it; its images are kept for the next run in" \
    "${SPIKEBENCH_PODMAN_DIR:-/var/cache/spikebench-podman} (CI does this by itself)"
