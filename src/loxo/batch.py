"""Datum batching for Python user code: one process, many datums.

With ``transform.datum_batching: true`` in a spec, the command is started once per set
of datums and asks for each datum in turn::

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

import os
import shlex
from collections.abc import Iterator


def next_datum() -> dict[str, str] | None:
    """Finish the current datum and set up the next; None when there are no more.

    The datum's variables (``<input name>``, ``PACH_DATUM_ID`` ...) are also put in
    ``os.environ``.
    """
    where = os.environ.get("LOXO_BATCH_DIR")
    if where is None:
        raise RuntimeError("not running under datum_batching (LOXO_BATCH_DIR is not set)")
    with open(os.path.join(where, "req"), "w") as req:
        req.write("next\n")
    with open(os.path.join(where, "resp")) as resp:
        reply = resp.read()
    if reply.strip() == "end":
        return None
    env: dict[str, str] = {}
    for line in reply.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    os.environ.update(env)
    return env


def datums() -> Iterator[dict[str, str]]:
    """Every datum of this batch, one after another (see the module docstring)."""
    while (env := next_datum()) is not None:
        yield env
