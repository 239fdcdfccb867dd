#!/usr/bin/env bash
# Exit 0 when `make test` should run the containers smoke test (make test-containers): podman is
# usable, or installable (root and apt-get, as on this project's CI VMs). Otherwise say why not
# and exit 1. SPIKEBENCH_SKIP_CONTAINERS=1 opts out (setup.sh installs packages with apt).
set -euo pipefail

why_not() {
    echo "containers smoke test skipped: $*" >&2
    exit 1
}

[[ ${SPIKEBENCH_SKIP_CONTAINERS:-0} != 1 ]] || why_not "SPIKEBENCH_SKIP_CONTAINERS=1"
[[ $(id -u) -eq 0 ]] || why_not "needs root (rootful podman; run make test-containers as root)"
if ! command -v podman >/dev/null; then
    command -v apt-get >/dev/null || why_not "no podman and no apt-get to install it"
    [[ -f /etc/debian_version ]] || why_not "not a Debian system (setup.sh uses debootstrap)"
fi
exit 0
