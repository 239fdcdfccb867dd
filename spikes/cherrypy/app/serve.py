"""`python -m app.serve --workers N --threads T`: N CherryPy processes sharing one socket.

CherryPy's server is one process of threads (its docs scale out with more instances behind a
balancer). To honour SPIKE_WORKERS the way gunicorn does, this launcher binds the socket once
and forks N workers that take it over through systemd-style socket activation (LISTEN_PID and
LISTEN_FDS, fd 3), which CherryPy and cheroot both support; the kernel spreads connections over
the workers' accept() calls. A worker that dies takes the others down, so the harness sees it.
"""

import argparse
import contextlib
import os
import signal
import socket
import sys
from types import FrameType

from .server import run

LISTEN_FD = 3  # SD_LISTEN_FDS_START


def _worker(host: str, port: int, threads: int) -> None:
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = "1"
    run(host, port, threads)  # engine, pool and server threads start here, after the fork


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()

    listener = socket.create_server((args.host, args.port), backlog=1024)
    # cheroot sets this on sockets it binds itself, not on an inherited one; accepted
    # connections inherit it (without it, keep-alive answers wait ~40 ms for delayed ACKs).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    fd = listener.detach()
    if fd != LISTEN_FD:
        os.dup2(fd, LISTEN_FD)
        os.close(fd)

    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _worker(args.host, args.port, args.threads)
                code = 0
            finally:
                os._exit(code)  # never return into the parent's loop
        children.append(pid)

    def stop(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while children:
        pid, code = os.wait()
        if pid in children:
            children.remove(pid)
            if code and not status:
                status = os.waitstatus_to_exitcode(code) or 1
                stop(signal.SIGTERM, None)  # one worker failed: take the rest down too
    sys.exit(status)


if __name__ == "__main__":
    main()
