"""Runs inside the sandbox, one per worker; stdlib only, so it starts fast.

Reads one JSON request per line on stdin: ``links`` (paths under /pfs to point at the
datum's scratch directories), ``cmd``, ``stdin``, ``env``, ``cwd``, ``timeout``,
``stdout``/``stderr`` (files to write the user's output to). Runs the command in its
own process group and answers one JSON line: ``{"code": int, "timed_out": bool}``.
"""

import json
import os
import signal
import subprocess
import sys
from typing import Any


def _relink(links: dict[str, str]) -> None:
    for link, target in links.items():
        if os.path.islink(link):
            os.unlink(link)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target, link)


def _run(req: dict[str, Any]) -> dict[str, Any]:
    _relink(req.get("links", {}))
    with open(req["stdout"], "ab") as out, open(req["stderr"], "ab") as err:
        try:
            proc = subprocess.Popen(
                req["cmd"], stdin=subprocess.PIPE, stdout=out, stderr=err,
                env=req["env"], cwd=req.get("cwd") or None, start_new_session=True,
            )
        except OSError as exc:
            err.write(f"cannot start {req['cmd'][0]!r}: {exc}\n".encode())
            return {"code": 127, "timed_out": False}
        data = "".join(line + "\n" for line in req.get("stdin", [])).encode()
        try:
            proc.communicate(data, timeout=req.get("timeout"))
            return {"code": proc.returncode, "timed_out": False}
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"code": -9, "timed_out": True}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        reply = _run(json.loads(line))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
