"""A warm launcher for the `fusioncell` command line: `users add` during set-up, `serve` in the SIGKILL loop.

Each `fusioncell` command costs ~2.5-3.5 s of CPU here before it does anything, almost all of it importing
Python modules; 58 `users add` per database and a hundred restarts per database would spend most of the
benchmark's time budget importing. This process imports the command line's modules once, then for each command
forks a child that runs exactly `fusioncell ARGV...` through the CLI's own entry point (`fusioncell.cli:main`),
settings read from the environment as usual, standard input given. The child is a fresh process to the
database and the network: the bench kills a forked `serve` with SIGKILL like any other server process.
`python -m bench --cold-restarts` runs every command as a new process instead.

Protocol (one JSON object per line on stdin/stdout):
  {"op": "spawn", "argv": [...], "log": FILE, "stdin": TEXT?}  ->  {"pid": PID}
  {"op": "wait", "pid": PID}  ->  {"pid": PID, "signal": N | null, "exit": N | null}
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback


def _warm_up() -> None:
    # what `fusioncell serve` imports on its way to uvicorn.run (no threads, no connections: safe to fork)
    import uvicorn  # noqa: F401
    import uvicorn.lifespan.on  # noqa: F401
    import uvicorn.loops.auto  # noqa: F401
    import uvicorn.protocols.http.auto  # noqa: F401
    import uvicorn.protocols.websockets.auto  # noqa: F401

    import fusioncell.app  # noqa: F401
    import fusioncell.cli  # noqa: F401
    import fusioncell.migrate  # noqa: F401
    import fusioncell.ops  # noqa: F401
    import fusioncell.setup  # noqa: F401


def _child(argv: list[str], log: str, stdin: str | None) -> None:
    try:
        os.setsid()
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdin = io.StringIO(stdin or "")
        sys.argv = ["fusioncell", *argv]
        from fusioncell.cli import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    os._exit(code)


def main() -> None:
    _warm_up()
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "spawn":
            out.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(list(request["argv"]), request["log"], request.get("stdin"))
            reply: dict[str, object] = {"pid": pid}
        elif request["op"] == "wait":
            pid = int(request["pid"])
            _, status = os.waitpid(pid, 0)
            reply = {
                "pid": pid,
                "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            }
        else:
            reply = {"error": f"unknown op {request['op']!r}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
