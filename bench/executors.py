"""Executor benchmark: the same pipelines on the local, Ray and Dask executors, one run.

Rows (all measured here, now), each executor on this machine's cores:
  (1) 10,000 datums of a trivial shell command (a process per datum), parallelism 2;
  (2) the iris example's three pipelines (examples/iris), run from the repository root.
Each run is a separate process (``python -c``) on a fresh copy of the same store; with
``--repeat N`` the executors take turns N times and each row is the run with the best
job wall (the machine may be shared: turns spread the noise over all three). "job
wall" is the time from creating the pipeline(s) to their jobs' success, including the
engine's start-up (a local Ray or Dask cluster started by the executor), which is also
shown alone; "process wall" adds opening and closing the store and the cluster.
Usage: ``python bench/executors.py [--scale 0.1] [--repeat 2] [--executors local,ray,dask]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL = 'echo ok > "/pfs/out/$(basename "$in")"'
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}

RUN = """
import json, sys, time, loxo
home, executor, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
c = loxo.Client(home, executor=executor)
t = time.perf_counter()
for spec in specs:
    c.create_pipeline(spec)
wall = time.perf_counter() - t
jobs = c.list_job()
assert all(j.state.value == 'success' for j in jobs), [(j.pipeline, j.reason) for j in jobs]
done = sum(j.data_processed for j in jobs)
startup = getattr(c.pps.executor, 'startup_seconds', 0.0)
t = time.perf_counter()
c.close()
print(json.dumps({'wall': wall, 'datums': done, 'startup': startup,
                  'close': time.perf_counter() - t}))
"""

PREPARE_TRIVIAL = """
import sys, loxo
c = loxo.Client(sys.argv[1])
c.create_repo('data')
c.put_many('data@master', [('/', sys.argv[2])], recursive=True)
c.close()
"""

PREPARE_IRIS = """
import sys, loxo
c = loxo.Client(sys.argv[1])
c.create_repo('training'); c.create_repo('attributes')
c.put_file('training@master:/iris.csv', 'examples/iris/data/iris.csv')
c.put_file('attributes@master:/test1.csv', 'examples/iris/data/test1.csv')
c.put_file('attributes@master:/test2.csv', 'examples/iris/data/test2.csv')
c.close()
"""


def python(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **ENV})
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr[-3000:]}")
    return done.stdout


def measured(home: Path, executor: str, specs: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    out = json.loads(python(RUN, str(home), executor, *specs).strip().splitlines()[-1])
    out["process"] = time.perf_counter() - started
    return dict(out)


def trivial_store(work: Path, count: int) -> tuple[Path, list[str]]:
    files = work / "files"
    files.mkdir()
    for i in range(count):
        (files / f"{i:07d}").write_text(f"{i}\n")
    store = work / "trivial-store"
    python(PREPARE_TRIVIAL, str(store), str(files))
    spec = work / "trivial.json"
    spec.write_text(json.dumps({
        "pipeline": {"name": "trivial"}, "transform": {"cmd": ["sh", "-c", TRIVIAL]},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
        "parallelism_spec": {"constant": 2},
    }))
    return store, [str(spec)]


def iris_store(work: Path) -> tuple[Path, list[str]]:
    store = work / "iris-store"
    python(PREPARE_IRIS, str(store))
    return store, [str(ROOT / "examples" / "iris" / f"{s}.json") for s in ("pre_process", "train", "infer")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--executors", default="local,ray,dask")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    executors = args.executors.split(",")
    count = int(10_000 * args.scale)
    work = Path(tempfile.mkdtemp(prefix="loxo-executors-", dir=args.workdir))
    rows: list[tuple[str, str, dict[str, float]]] = []
    try:
        for case, (template, specs) in (
            (f"(1) {count:,} trivial datums", trivial_store(work, count)),
            ("(2) iris example", iris_store(work)),
        ):
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeat):
                for executor in executors:
                    home = work / f"run-{executor}"
                    shutil.copytree(template, home)
                    run = measured(home, executor, specs)
                    shutil.rmtree(home, ignore_errors=True)
                    if executor not in best or run["wall"] < best[executor]["wall"]:
                        best[executor] = run
            rows += [(case, executor, best[executor]) for executor in executors]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"executor benchmark, {os.cpu_count()} cores, scale {args.scale}, best of {args.repeat}\n")
    print("| case | executor | job wall (s) | datums/s | engine start-up (s) | process wall (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for case, executor, r in rows:
        rate = r["datums"] / r["wall"] if r["wall"] else 0.0
        shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"
        print(f"| {case} | {executor} | {r['wall']:.2f} | {shown} | {r['startup']:.2f} "
              f"| {r['process']:.2f} |")
    local = next((r for c, e, r in rows if e == "local" and c.startswith("(1)")), None)
    if local is not None:
        print()
        for case, executor, r in rows:
            if case.startswith("(1)") and executor != "local":
                ratio = r["wall"] / local["wall"]
                print(f"- {'met ' if ratio <= 1.5 else 'MISSED'} {executor} within 1.5x of local for "
                      f"{count:,} datums: {ratio:.2f}x ({(r['wall'] - r['startup']) / local['wall']:.2f}x "
                      "without the engine's start-up)")


if __name__ == "__main__":
    main()
