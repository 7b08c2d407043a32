"""Executors named by a short text, as ``--executor`` and ``LOXO_EXECUTOR`` give them.

::

    local                  worker processes on this machine (the default)
    ray                    a Ray cluster of this machine's cores, started in this process
    ray://host:port        join a Ray cluster through Ray Client (head port 10001)
    dask                   a Dask scheduler and one worker per core of this machine
    dask://host:port       join a Dask scheduler (also tcp://, tls://host:port)

Options follow as a query: ``?timeout=SECONDS`` (how long the engine may stop answering
before the job fails, default 60), ``?workers=N`` (cores of a local Ray cluster, workers
of a local Dask cluster), ``?pin=0`` (local: never keep a worker on one core, see
``loxo.executors.local.worker_cores``). The engine's package is imported only when the
first job runs; a missing one is a one-line error here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from loxo.errors import InvalidArgument
from loxo.executors.local import Executor, LocalExecutor
from loxo.pfs.store import StoreLocation

KINDS = ("local", "ray", "dask")
_EXTRAS = {"ray": ("ray", "Ray"), "dask": ("distributed", "Dask")}


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed executor name: ``kind`` local/ray/dask, the cluster to join (None: start
    one here), and options."""

    kind: str
    address: str | None = None
    timeout: float = 60.0
    workers: int | None = None
    pin: bool = True


def parse_executor(text: str) -> ExecutorSpec:
    """``ExecutorSpec`` of ``text``, or ``InvalidArgument`` saying what is accepted."""
    raw = text.strip()
    base, _, query = raw.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - {"timeout", "workers", "pin"})
    if unknown:
        raise InvalidArgument(f"executor {text!r}: unknown option {unknown[0]!r} (timeout, workers, pin)")
    pin_text = options.get("pin", "1")
    if pin_text not in ("0", "1"):
        raise InvalidArgument(f"executor {text!r}: pin is 0 or 1")
    pin = pin_text == "1"
    try:
        timeout = float(options.get("timeout", "60"))
        workers = int(options["workers"]) if "workers" in options else None
    except ValueError:
        raise InvalidArgument(f"executor {text!r}: timeout is seconds and workers a count") from None
    if timeout <= 0 or (workers is not None and workers < 1):
        raise InvalidArgument(f"executor {text!r}: timeout and workers must be positive")
    lowered = base.lower()
    if lowered in KINDS:
        return ExecutorSpec(lowered, None, timeout, workers, pin)
    if "://" in base:
        url = urlsplit(base)
        if not url.hostname or url.port is None or url.path not in ("", "/"):
            raise InvalidArgument(f"executor {text!r}: name a cluster as scheme://host:port")
        scheme = url.scheme.lower()
        where = f"{url.hostname}:{url.port}"
        if scheme == "ray":
            return ExecutorSpec("ray", f"ray://{where}", timeout, workers)
        if scheme in ("dask", "tcp"):
            return ExecutorSpec("dask", f"tcp://{where}", timeout, workers)
        if scheme == "tls":
            return ExecutorSpec("dask", f"tls://{where}", timeout, workers)
    raise InvalidArgument(
        f"executor {text!r}: use local, ray, dask, ray://host:port, dask://host:port or tcp://host:port"
    )


def check_extra(kind: str) -> None:
    """``InvalidArgument`` with the install line when ``kind``'s package is missing."""
    if kind in _EXTRAS:
        module, name = _EXTRAS[kind]
        if importlib.util.find_spec(module) is None:
            raise InvalidArgument(f"the {kind} executor needs {name}: pip install 'loxo[{kind}]'")


def open_executor(text: str, location: StoreLocation, scratch_root: Path,
                  use_sandbox: bool = True) -> Executor:
    """The executor ``text`` names, for the store at ``location``. Nothing starts or
    connects until it runs its first datum set."""
    spec = parse_executor(text)
    check_extra(spec.kind)
    if spec.kind == "ray":
        from loxo.executors.ray import ray_executor

        return ray_executor(spec.address, scratch_root, use_sandbox, spec.timeout, spec.workers)
    if spec.kind == "dask":
        from loxo.executors.dask import dask_executor

        return dask_executor(spec.address, scratch_root, use_sandbox, spec.timeout, spec.workers)
    return LocalExecutor(location, scratch_root, use_sandbox, pin_workers=spec.pin)
