"""A warm launcher for `fusioncell serve`, used by the SIGKILL loop.

Starting `fusioncell serve` costs ~3.5 s here, almost all of it importing Python modules; a hundred cold
restarts per database would spend most of the benchmark's time budget importing. This process imports the
server's modules once, then for each restart forks a child that runs exactly `fusioncell serve --data D --port P`
(the CLI's own entry point, settings read from the environment as usual). The child is a fresh process to the
database and the network: the bench kills it with SIGKILL like any other server process.

Protocol (one JSON object per line on stdin/stdout):
  {"op": "spawn", "port": P, "data": D, "log": FILE}  ->  {"pid": PID}
  {"op": "wait", "pid": PID}                          ->  {"pid": PID, "signal": N | null, "exit": N | null}
"""

from __future__ import annotations

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


def _child(port: int, data: str, log: str) -> None:
    try:
        os.setsid()
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.argv = ["fusioncell", "serve", "--data", data, "--port", str(port)]
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
                _child(int(request["port"]), request["data"], request["log"])
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
