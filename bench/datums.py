"""Datum benchmark: loxo's per-datum overhead, batching, and skipping, in one run.

Rows (all measured here, now):
  (1) 10,000 datums of a trivial shell command, one process per datum, parallelism 2,
      against the same 10,000 commands through ``xargs -P2`` (the floor for a process
      per datum). The floor writes its outputs where loxo's user code writes them (the
      scratch filesystem, RAM where /dev/shm exists); a second ``xargs`` row writes to
      disk, for information: there each output file is an inode allocated on ext4,
      which on this VM costs 30 us to 1.2 ms of CPU depending on the directory's block
      group, and was most of the baseline's run-to-run spread;
  (2) the same 10,000 datums with ``datum_batching`` (a Python loop over
      ``loxo.batch.datums()``), against a bare Python loop doing the same work;
  (3) a 100,000-datum job re-run after one input file changed: the whole command (start
      Python, put the file, run the job) and the job alone (``run_pending`` until it
      succeeded), and the job's time per skipped datum.
Rows 1 and 2 are the medians of ``--repeat`` runs (default 3), each loxo run next to
its baseline's: this VM's speed drifts by tens of percent within minutes.
Each loxo run is a separate process (``python -c``); wall time and peak RSS are that
process's and its children's (``os.wait4``). Usage: ``python bench/datums.py [--scale 0.1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# one process per datum on both sides: ${in##*/} is the shell's own basename
TRIVIAL = 'echo ok > "/pfs/out/${in##*/}"'
BATCH_LOOP = (
    "import loxo.batch, os\n"
    "for env in loxo.batch.datums():\n"
    "    open('/pfs/out/' + os.path.basename(env['in']), 'w').write('ok\\n')\n"
)


def measured(cmd: list[str], **kwargs: object) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of ``cmd``; fails loudly if it fails."""
    seconds, rss, _ = measured_output(cmd, **kwargs)
    return seconds, rss


def measured_output(cmd: list[str], **kwargs: object) -> tuple[float, float, str]:
    """``measured`` and what ``cmd`` printed on stdout (its own peak RSS, by ``wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **kwargs)  # type: ignore[call-overload]
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if status != 0:
            raise SystemExit(f"benchmark step failed: {' '.join(cmd)[:200]}\n"
                             f"{err.read().decode(errors='replace')}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode()


def sdk(code: str) -> list[str]:
    return [sys.executable, "-c", "import loxo, json, sys\n" + code]


def spec(name: str, cmd: list[str], batching: bool = False, parallelism: int = 2) -> str:
    return json.dumps({
        "pipeline": {"name": name},
        "transform": {"cmd": cmd, "datum_batching": batching},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
        "parallelism_spec": {"constant": parallelism},
    })


def make_files(root: Path, count: int) -> None:
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"{i:07d}").write_text(f"{i}\n")


def store_with(home: Path, files: Path) -> None:
    subprocess.run(sdk(
        f"c = loxo.Client({str(home)!r}); c.create_repo('data')\n"
        f"c.put_many('data@master', [('/', {str(files)!r})], recursive=True)\n"
    ), check=True)


def run_pipeline(home: Path, spec_text: str, work: Path, name: str) -> tuple[float, float]:
    path = work / f"{name}.json"
    path.write_text(spec_text)
    return measured(sdk(
        f"c = loxo.Client({str(home)!r}); c.create_pipeline({str(path)!r})\n"
        f"j = c.list_job({name!r})[0]\n"
        "assert j.state.value == 'success' and j.data_failed == 0, (j.state, j.reason)\n"
    ))


def bench_per_datum(work: Path, count: int, repeat: int) -> list[tuple[str, str, float, float, float]]:
    """Rows (1) and (2): each side ``repeat`` times, alternating with its baseline so
    that both see the same machine (a VM's speed drifts by tens of percent within
    minutes); each row is the median run (wall time; its peak memory the highest)."""
    files = work / "files"
    make_files(files, count)
    home = work / "store"
    store_with(home, files)
    runs: dict[str, list[tuple[float, float]]] = {}
    ram = Path(tempfile.mkdtemp(prefix="loxo-bench-", dir=scratch_filesystem(home)))
    try:
        for n in range(repeat):
            runs.setdefault("xargs", []).append(xargs_run(files, ram / f"xargs-out-{n}"))
            runs.setdefault("xargs-disk", []).append(xargs_run(files, work / f"xargs-out-{n}"))
            one_round(home, files, work, ram / f"loop-out-{n}", n, runs)
    finally:
        shutil.rmtree(ram, ignore_errors=True)
    for key, label in (("loxo", "(1) loxo"), ("xargs", "(1) xargs -P2"),
                       ("xargs-disk", "(1) xargs -P2, outputs on disk"), ("batched", "(2) loxo"),
                       ("loop", "(2) bare loop")):
        print(f"{label} runs (s): {', '.join(f'{s:.2f}' for s, _ in runs[key])}")
    rows = []
    for case, how, key in (("(1) process per datum", "loxo, parallelism 2", "loxo"),
                           ("(1) process per datum", "xargs -P2", "xargs"),
                           ("(1) process per datum", "xargs -P2, outputs on disk", "xargs-disk"),
                           ("(2) datum batching", "loxo, parallelism 2", "batched"),
                           ("(2) datum batching", "bare Python loop", "loop")):
        secs = statistics.median(s for s, _ in runs[key])
        rows.append((case, how, secs, count / secs, max(r for _, r in runs[key])))
    return rows


def scratch_filesystem(home: Path) -> str:
    """Where loxo puts datums' scratch (and so /pfs/out) for ``home``. Asked of a child:
    importing loxo here would count in every baseline's peak memory (a forked child's
    ``ru_maxrss`` includes its parent's pages from before ``exec``)."""
    _, _, out = measured_output(sdk(
        "from loxo.pfs.store import StoreLocation\nfrom loxo.pps.api import default_scratch\n"
        f"print(default_scratch(StoreLocation.embedded({str(home)!r})).parent)"))
    return out.strip()


def xargs_run(files: Path, out: Path) -> tuple[float, float]:
    """The same command as loxo's datums, with $in and /pfs/out as loxo sets them."""
    out.mkdir()
    command = TRIVIAL.replace("/pfs/out", str(out))
    try:
        return measured(["sh", "-c", f"ls {files} | xargs -P2 -I{{}} sh -c 'in=/pfs/in/{{}}; {command}'"])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def one_round(home: Path, files: Path, work: Path, loop_out: Path, n: int,
              runs: dict[str, list[tuple[float, float]]]) -> None:
    """One loxo run of rows 1 and 2, and the bare loop (writing where loxo's user code
    writes, like the xargs floor)."""
    trivial = spec(f"trivial{n}", ["sh", "-c", TRIVIAL])
    runs.setdefault("loxo", []).append(run_pipeline(home, trivial, work, f"trivial{n}"))
    loop_out.mkdir()
    loop = (f"import os\nfor n in sorted(os.listdir({str(files)!r})):\n"
            f"    open(os.path.join({str(loop_out)!r}, n), 'w').write('ok\\n')\n")
    runs.setdefault("loop", []).append(measured([sys.executable, "-c", loop]))
    shutil.rmtree(loop_out, ignore_errors=True)
    batch = spec(f"batched{n}", [sys.executable, "-c", BATCH_LOOP], batching=True)
    runs.setdefault("batched", []).append(run_pipeline(home, batch, work, f"batched{n}"))


def bench_skipping(work: Path, count: int) -> list[tuple[str, str, float, float, float]]:
    files = work / "many"
    make_files(files, count)
    home = work / "store-many"
    store_with(home, files)
    first = spec("skip", [sys.executable, "-c", BATCH_LOOP], batching=True)
    secs_first, rss_first = run_pipeline(home, first, work, "skip")
    changed = work / "changed"
    changed.write_text("changed\n")
    secs, rss, out = measured_output(sdk(
        f"c = loxo.Client({str(home)!r}, auto_run=False)\n"
        f"c.put_file('data@master:/0000001', {str(changed)!r})\n"
        "import time; t = time.perf_counter(); c.run_pending(); el = time.perf_counter() - t\n"
        "j = c.list_job('skip')[0]\n"
        f"assert (j.data_processed, j.data_skipped) == (1, {count - 1}), (j.data_processed, j.data_skipped)\n"
        "print(el)\n"
    ))
    job = float(out.strip())
    return [
        ("(3) first job", f"{count:,} datums, batching", secs_first, count / secs_first, rss_first),
        ("(3) re-run after 1 change", "whole command: start, put, job", secs, 0.0, rss),
        ("(3) re-run after 1 change", f"the job, {count - 1:,} skipped", job, job / (count - 1) * 1e6, 0.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of rows 1 and 2, alternating with their baselines (median)")
    parser.add_argument("--cases", default="123",
                        help="which rows to run: 1 and 2 share a store (default: 123)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loxo-datums-", dir=args.workdir))
    rows: list[tuple[str, str, float, float, float]] = []
    try:
        if "1" in args.cases or "2" in args.cases:
            rows += bench_per_datum(work, int(10_000 * args.scale), args.repeat)
        if "3" in args.cases:
            rows += bench_skipping(work, int(100_000 * args.scale))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"datum benchmark, {os.cpu_count()} cores, scale {args.scale}, "
          f"rows 1-2: median of {args.repeat} alternating runs\n")
    print("| case | how | wall (s) | datums/s (last row: us per skipped datum) | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|")
    for case, how, secs, rate, rss in rows:
        shown = "" if not rate else (f"{rate:,.1f}" if rate < 100 else f"{rate:,.0f}")
        print(f"| {case} | {how} | {secs:.2f} | {shown} | {f'{rss:.0f}' if rss else ''} |")
    print()
    for line in verdicts(rows):
        print(line)


def verdicts(rows: list[tuple[str, str, float, float, float]]) -> list[str]:
    """One line per target whose rows ran: met or MISSED, with the measured value."""
    by = {(r[0], r[1]): r for r in rows}
    out = []
    if ("(1) process per datum", "xargs -P2") in by:
        loxo = by[("(1) process per datum", "loxo, parallelism 2")][2]
        floor = by[("(1) process per datum", "xargs -P2")][2]
        out.append(f"- {'met ' if loxo <= 1.5 * floor else 'MISSED'} process per datum within "
                   f"1.5x of xargs -P2: {loxo / floor:.2f}x")
        batch_rate = by[("(2) datum batching", "loxo, parallelism 2")][3]
        out.append(f"- {'met ' if batch_rate >= 2000 else 'MISSED'} batching at least 2,000 "
                   f"datums/s: {batch_rate:,.0f}/s")
    rerun = [r for r in rows if r[0].startswith("(3) re-run")]
    if rerun:
        secs, per = rerun[0][2], rerun[1][3]
        out.append(f"- {'met ' if secs < 5 else 'MISSED'} re-run after one change under 5 s: {secs:.2f} s")
        out.append(f"- {'met ' if per < 20 else 'MISSED'} under 20 us per skipped datum: {per:.1f} us")
    peak = max(r[4] for r in rows)
    out.append(f"- {'met ' if peak < 500 else 'MISSED'} peak memory under 500 MiB: {peak:.0f} MiB")
    return out


if __name__ == "__main__":
    main()
