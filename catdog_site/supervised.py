"""`make run`'s programs start through this (supervisord.conf):

    python -m catdog_site.supervised <command> [arguments...]

On Linux the command is asked to stop (SIGTERM) when supervisord ends, however it ends: a closed terminal
or a killed supervisord leaves no Redis, worker or beat running behind it. Elsewhere it simply runs the
command. Must not import Django.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent (supervisord) ends; kept across exec."""
    parent = os.getppid()
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is None:  # not Linux
        return
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent ended before the request was made
        sys.exit("catdog: supervisord has gone; not starting.")


def main() -> None:
    stop_with_parent()
    os.execvp(sys.argv[1], sys.argv[1:])  # noqa: S606 (supervisord.conf's own commands)


if __name__ == "__main__":
    main()
