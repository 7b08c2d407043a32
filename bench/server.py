"""Server benchmark: one real ``loxo serve`` on loopback, many clients, in one run.

Cases, all measured in this one run on this machine:
  (a) 8 clients at once, each putting 1,000 small files (1-4 KiB, random) one put (one
      commit) at a time into a repo of its own, then reading them all back and comparing
      every byte. Two other ways to share the server, at 100 files per client (they cost
      minutes at full size): a branch per client in one repo, and all on one branch
      (every autocommit put on a branch waits for the branch head: the worst case).
  (b) one client streaming a 1 GiB random file up (``put_file`` with a path) and down
      (``read_file``, hashed as it arrives), against the embedded ``loxo.Client`` doing
      the same on a store of its own.

Each client is a process with its own ``loxo.RemoteClient`` (the default one: after each
write it asks the server to settle, as a script would): threads would share one GIL
in this process and measure the client's Python more than the server. Latencies are per
call, as the caller sees them; rates are all calls over the wall time from the first
call to the last. Server peak memory is the server process's ``VmHWM``, reset before
each case through ``/proc/<pid>/clear_refs``.
Usage: ``python bench/server.py [--files 1000] [--compare-files 100] [--big-mib 1024]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path

import blake3
import httpx2 as httpx

import loxo
from loxo.errors import FileNotFound

MIB = 1 << 20
CHUNK = 16 * MIB


# -- the server ------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def peak_mib(self) -> float:
        """The server's peak resident memory since start or the last ``reset_peak``."""
        return _status_kib(self.process.pid, "VmHWM") / 1024

    def reset_peak(self) -> bool:
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(home: Path, work: Path) -> Iterator[Server]:
    """``loxo --home HOME serve`` on a free loopback port, until the block ends."""
    port = free_port()
    loxo_bin = shutil.which("loxo") or str(Path(sys.executable).with_name("loxo"))
    log = work / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([loxo_bin, "--home", str(home), "serve", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"loxo serve exited:\n{server.log.read_text(errors='replace')[-2000:]}")
        for probe in ("/healthz", "/v1/version"):
            try:
                if httpx.get(server.url + probe, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise SystemExit(f"loxo serve did not answer within {timeout} s")


# -- (a) small files -------------------------------------------------------------------
@dataclass
class ClientRun:
    """What one client process measured (times from ``time.monotonic``, system-wide)."""

    put_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    put_span: tuple[float, float] = (0.0, 0.0)
    get_span: tuple[float, float] = (0.0, 0.0)
    errors: list[str] = field(default_factory=list)
    lost: int = 0


def small_files_client(url: str, target: str, index: int, count: int, barrier: Barrier) -> ClientRun:
    """Put ``count`` files at ``target`` (``repo@branch``) one by one, wait for every
    client, then read each back and compare."""
    rng = random.Random(index)
    files = {f"/c{index}/f{j:05d}.bin": rng.randbytes(rng.randint(1024, 4096)) for j in range(count)}
    run = ClientRun()
    with loxo.RemoteClient(url) as client:
        barrier.wait()
        start = time.monotonic()
        for path, data in files.items():
            t = time.perf_counter()
            try:
                client.put_file(f"{target}:{path}", data)
            except Exception as exc:  # every failure is counted, none stops the run
                run.errors.append(f"put {path}: {type(exc).__name__}: {exc}")
            run.put_ms.append((time.perf_counter() - t) * 1000)
        run.put_span = (start, time.monotonic())
        barrier.wait()
        start = time.monotonic()
        for path, data in files.items():
            t = time.perf_counter()
            try:
                if client.get_file(f"{target}:{path}") != data:
                    run.lost += 1
            except FileNotFound:
                run.lost += 1
            except Exception as exc:
                run.errors.append(f"get {path}: {type(exc).__name__}: {exc}")
                run.lost += 1
            run.get_ms.append((time.perf_counter() - t) * 1000)
        run.get_span = (start, time.monotonic())
    return run


def _client_process(url: str, target: str, index: int, count: int, barrier: Barrier,
                    results: mp.SimpleQueue[tuple[int, ClientRun]]) -> None:
    try:
        run = small_files_client(url, target, index, count, barrier)
    except Exception as exc:  # the client itself broke: its files count as errors
        barrier.abort()
        run = ClientRun(errors=[f"client {index}: {type(exc).__name__}: {exc}"], lost=count)
    results.put((index, run))


@dataclass
class Row:
    case: str
    ops: int
    seconds: float
    rate: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    lost: int | None = None
    server_peak_mib: float | None = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


def bench_small(server: Server, how: str, targets: list[str], count: int) -> tuple[Row, Row, list[str]]:
    """Every client at once: puts, then (after all have put) gets. Returns the put row,
    the get row and the first few error messages."""
    with loxo.RemoteClient(server.url) as admin:
        for repo in sorted({t.split("@")[0] for t in targets}):
            admin.create_repo(repo)
    server.reset_peak()
    ctx = mp.get_context("fork")  # nothing threaded has started in this process yet
    barrier = ctx.Barrier(len(targets))
    results: mp.SimpleQueue[tuple[int, ClientRun]] = ctx.SimpleQueue()
    procs = [ctx.Process(target=_client_process, args=(server.url, t, i, count, barrier, results))
             for i, t in enumerate(targets)]
    for p in procs:
        p.start()
    runs = [run for _, run in sorted(results.get() for _ in procs)]
    for p in procs:
        p.join()
    peak = server.peak_mib()
    errors = [e for r in runs for e in r.errors]
    put_errors = sum(e.startswith("put ") for e in errors)

    def span(spans: list[tuple[float, float]]) -> float:
        spans = [s for s in spans if s[1]] or [(0.0, 1e-9)]  # a broken client measured nothing
        return max(s[1] for s in spans) - min(s[0] for s in spans)

    puts = [ms for r in runs for ms in r.put_ms]
    gets = [ms for r in runs for ms in r.get_ms]
    put_s, get_s = span([r.put_span for r in runs]), span([r.get_span for r in runs])
    label = f"(a) {len(targets)} clients x {count:,} files, {how}"
    put_row = Row(f"{label}: put", len(puts), put_s, f"{len(puts) / put_s:,.0f} puts/s",
                  percentile(puts, 50), percentile(puts, 99), put_errors, None, peak)
    get_row = Row(f"{label}: get + verify", len(gets), get_s, f"{len(gets) / get_s:,.0f} gets/s",
                  percentile(gets, 50), percentile(gets, 99), len(errors) - put_errors,
                  sum(r.lost for r in runs))
    return put_row, get_row, errors[:5]


# -- (b) one big file ------------------------------------------------------------------
def make_big(path: Path, size: int) -> str:
    """``size`` random bytes (incompressible, no repeats for dedup to find); their hash."""
    hasher = blake3.blake3()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, CHUNK))
            hasher.update(block)
            f.write(block)
            left -= len(block)
    return hasher.hexdigest()


def round_trip(client: loxo.ClientBase, source: Path, expected: str, who: str,
               peak: Callable[[], float | None]) -> tuple[list[Row], list[str]]:
    size = source.stat().st_size
    client.create_repo("big")
    rows, errors = [], []
    t = time.perf_counter()
    client.put_file("big@master:/big.bin", str(source))
    put_s = time.perf_counter() - t
    rows.append(Row(f"(b) {size / MIB:,.0f} MiB file, {who}: put", 1, put_s,
                    f"{size / MIB / put_s:,.0f} MiB/s", server_peak_mib=peak()))
    hasher = blake3.blake3()
    t = time.perf_counter()
    for chunk in client.read_file("big@master:/big.bin"):
        hasher.update(chunk)
    get_s = time.perf_counter() - t
    lost = int(hasher.hexdigest() != expected)
    if lost:
        errors.append(f"{who}: the file read back differs from the one put")
    rows.append(Row(f"(b) {size / MIB:,.0f} MiB file, {who}: get + hash", 1, get_s,
                    f"{size / MIB / get_s:,.0f} MiB/s", lost=lost, server_peak_mib=peak()))
    return rows, errors


def bench_big(server: Server, work: Path, size: int) -> tuple[list[Row], list[str]]:
    source = work / "big.bin"
    expected = make_big(source, size)

    def server_peak() -> float:
        peak = server.peak_mib()
        server.reset_peak()
        return peak

    server.reset_peak()
    with loxo.RemoteClient(server.url) as remote:
        rows, errors = round_trip(remote, source, expected, "remote", server_peak)
    with loxo.Client(work / "embedded") as embedded:
        more, more_errors = round_trip(embedded, source, expected, "embedded", lambda: None)
    source.unlink()
    return rows + more, errors + more_errors


# -- report ----------------------------------------------------------------------------
def table(rows: list[Row]) -> str:
    def ms(x: float | None) -> str:
        return "" if x is None else f"{x:.1f}"

    out = ["| case | ops | wall (s) | rate | p50 (ms) | p99 (ms) | errors | lost | server peak RSS (MiB) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lost = "" if r.lost is None else str(r.lost)
        peak = "" if r.server_peak_mib is None else f"{r.server_peak_mib:.0f}"
        out.append(f"| {r.case} | {r.ops:,} | {r.seconds:.2f} | {r.rate} | {ms(r.p50_ms)} | "
                   f"{ms(r.p99_ms)} | {r.errors} | {lost} | {peak} |")
    return "\n".join(out)


def verdicts(rows: list[Row], small_target: float, clients: int) -> list[str]:
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- {'met ' if ok else 'MISSED'} {text}")

    for r in rows:
        if r.case.endswith(": put") and r.case.startswith("(a)"):
            rate = r.ops / r.seconds
            line(rate >= small_target, f"small-file puts at least {small_target:,.0f}/s in total "
                 f"({r.case.split(' files, ', 1)[1].rsplit(':', 1)[0]}): {rate:,.0f}/s")
    big = {r.case.rsplit(", ", 1)[1]: r for r in rows if r.case.startswith("(b)")}
    remote = big["remote: put"].seconds + big["remote: get + hash"].seconds
    embedded = big["embedded: put"].seconds + big["embedded: get + hash"].seconds
    line(remote <= 2 * embedded, f"big-file round trip at least half the embedded speed: "
         f"remote {remote:.1f} s vs embedded {embedded:.1f} s ({embedded / remote:.2f}x)")
    errors = sum(r.errors for r in rows)
    lost = sum(r.lost or 0 for r in rows)
    line(errors == 0, f"errors: {errors}")
    line(lost == 0, f"files lost or changed: {lost}")
    peak = max(r.server_peak_mib or 0.0 for r in rows)
    out.append(f"- server peak RSS over the run: {peak:.0f} MiB ({clients} small-file clients; "
               "no target)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--files", type=int, default=1000, help="small files per client")
    parser.add_argument("--compare-files", type=int, default=100,
                        help="small files per client when sharing a repo (0: skip)")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big file")
    parser.add_argument("--target", type=float, default=500.0, help="small-file puts/s, in total")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loxo-bench-server-", dir=args.workdir))
    rows: list[Row] = []
    errors: list[str] = []
    try:
        with serve(work / "server-home", work) as server:
            n = args.clients
            cases = [("a repo per client", [f"team{i}@master" for i in range(n)], args.files)]
            if args.compare_files:
                cases += [("a branch per client", [f"shared@c{i}" for i in range(n)], args.compare_files),
                          ("all on one branch", ["onebranch@master"] * n, args.compare_files)]
            for how, targets, files in cases:
                put_row, get_row, errs = bench_small(server, how, targets, files)
                rows += [put_row, get_row]
                errors += errs
                print(f"{how}: done", file=sys.stderr)
            big_rows, big_errors = bench_big(server, work, args.big_mib * MIB)
            rows += big_rows
            errors += big_errors
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"server benchmark, {os.cpu_count()} cores (load average {load} at the end), "
          f"{args.clients} client processes, {args.big_mib:,} MiB big file\n")
    print(table(rows))
    print()
    print("\n".join(verdicts(rows, args.target, args.clients)))
    for e in errors:
        print(f"  error: {e}")


if __name__ == "__main__":
    main()
