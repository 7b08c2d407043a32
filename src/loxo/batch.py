"""Datum batching for Python user code: one process, many datums.

With ``transform.datum_batching: true`` in a spec, the command is started once per
worker and job (once per set of datums where the executor cannot keep it, or with a
``datum_timeout``) and asks for each datum in turn::

    import loxo.batch

    model = load_model()                  # once, not once per datum
    for env in loxo.batch.datums():       # /pfs/<input> and /pfs/out now hold this datum
        predict(model, env["images"], "/pfs/out/")

Asking for the next datum tells loxo the previous one succeeded; an exception (the
process exits non-zero) fails the datum in hand. Shell users loop on
``while loxo next datum > /tmp/datum.env; do . /tmp/datum.env; ...; done``.
This module uses only the standard library.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator

_channel: tuple[str, int, io.BufferedReader] | None = None
"""(batch dir, request fd, answer stream), kept open across datums: asking costs one
write and one read instead of opening both FIFOs each time."""


def _open(where: str) -> tuple[str, int, io.BufferedReader]:
    global _channel
    if _channel is None or _channel[0] != where:
        # ``resp`` first, read-write: that open never blocks, and the worker's open of it
        # for writing (after our first request) finds a reader already there.
        fd = os.open(os.path.join(where, "resp"), os.O_RDWR | os.O_CLOEXEC)
        answers = open(fd, "rb")  # noqa: SIM115 - kept open for the life of the process
        requests = os.open(os.path.join(where, "req"), os.O_WRONLY | os.O_CLOEXEC)
        _channel = (where, requests, answers)
    return _channel


def next_datum() -> dict[str, str] | None:
    """Finish the current datum and set up the next; None when there are no more.

    The datum's variables (``<input name>``, ``PACH_DATUM_ID`` ...) are also put in
    ``os.environ``.
    """
    where = os.environ.get("LOXO_BATCH_DIR")
    if where is None:
        raise RuntimeError("not running under datum_batching (LOXO_BATCH_DIR is not set)")
    _, requests, answers = _open(where)
    os.write(requests, b"json\n")
    header = answers.readline()
    if not header:
        raise RuntimeError("the loxo worker closed the datum channel")
    env: dict[str, str] | None = json.loads(answers.read(int(header)))
    if env is None:
        return None
    os.environ.update(env)
    return env


def datums() -> Iterator[dict[str, str]]:
    """Every datum of this batch, one after another (see the module docstring)."""
    while (env := next_datum()) is not None:
        yield env
