"""`python -m tests.lab --fd N`: serve the lab's app (TASKAPI_LAB_PACKAGE names the generated package) with
uvicorn on a TCP socket that is already listening, handed over as descriptor N.

Not uvicorn's own `--fd`: it takes the descriptor for a Unix socket (`socket.fromfd(fd, AF_UNIX, …)`), so
asyncio does not set TCP_NODELAY on the connections it accepts, and a response written in two packets
waits for the client's delayed ACK (40 ms); `socket.socket(fileno=…)` reads the family from the descriptor
(as `taskapi serve --fd` does)."""

from __future__ import annotations

import argparse
import socket

import uvicorn

from tests.lab.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="a listening TCP socket's descriptor")
    args = parser.parse_args()
    config = uvicorn.Config(create_app, factory=True, log_level="warning")
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])


if __name__ == "__main__":
    main()
