"""Ingest benchmark: ``loxo put file`` against ``cp -r`` and ``dvc add``.

Cases, all measured in this one run on this machine:
  (a) one 1 GiB random file
  (b) 10,000 files of 4 KiB
  (c) 200,000 files of 1 KiB
  (d) re-put of (a) with 1 MiB appended (how many new bytes each tool stores)

Every tool reads the same freshly written data (warm page cache) and writes into a
fresh directory. Wall time and peak resident memory are those of the measured process
and its children (``os.wait4``). dvc is installed into a throw-away venv if it is not
on PATH. Usage: ``python bench/ingest.py [--scale 0.1] [--no-dvc] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
GIB = 1 << 30


@dataclass
class Result:
    case: str
    tool: str
    seconds: float
    peak_mib: float
    stored_mib: float | None = None


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd``; returns (wall seconds, peak RSS MiB of it and its children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return seconds, usage.ru_maxrss / 1024


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def make_big(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 * MIB)
            f.write(os.urandom(n))
            left -= n


def make_many(root: Path, count: int, size: int) -> None:
    for i in range(count):
        d = root / f"{i // 1000:04d}"
        if i % 1000 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"{i:07d}.bin").write_bytes(os.urandom(size))


def find_dvc(work: Path) -> str:
    found = shutil.which("dvc")
    if found:
        return found
    venv = work / "dvc-venv"
    print("installing dvc into a throw-away venv (once per run) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "dvc"], check=True)
    return str(venv / "bin" / "dvc")


class Bench:
    def __init__(self, work: Path, loxo: str, dvc: str | None) -> None:
        self.work = work
        self.loxo = loxo
        self.dvc = dvc
        self.results: list[Result] = []
        self.n = 0

    def fresh(self, name: str) -> Path:
        self.n += 1
        path = self.work / f"{name}-{self.n}"
        path.mkdir()
        return path

    def loxo_put(self, case: str, src: Path, home: Path | None = None) -> Path:
        if home is None:
            home = self.fresh("loxo")
            subprocess.run([self.loxo, "--home", str(home), "create", "repo", "bench"], check=True)
        before = tree_bytes(home / "objects")
        flag = ["-r"] if src.is_dir() else []
        secs, peak = run([self.loxo, "--home", str(home), "put", "file",
                          f"bench@master:/{src.name}", *flag, "-f", str(src)])
        stored = (tree_bytes(home / "objects") - before) / MIB
        self.results.append(Result(case, "loxo put file", secs, peak, stored))
        return home

    def cp(self, case: str, src: Path, into: Path | None = None) -> Path:
        dest = into if into is not None else self.fresh("cp")
        secs, peak = run(["cp", "-r", str(src), str(dest / src.name)])
        self.results.append(Result(case, "cp -r", secs, peak, tree_bytes(dest / src.name) / MIB))
        return dest

    def dvc_add(self, case: str, src: Path, project: Path | None = None) -> Path:
        assert self.dvc is not None
        if project is None:
            project = self.fresh("dvc")
            subprocess.run([self.dvc, "init", "--no-scm", "-q"], cwd=project, check=True)
            subprocess.run([self.dvc, "config", "core.analytics", "false"], cwd=project, check=True)
        target = project / src.name
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        # Hard links put the data in the workspace without timing a copy.
        subprocess.run(["cp", "-al", str(src), str(target)], check=True)
        cache = project / ".dvc" / "cache"
        before = tree_bytes(cache) if cache.exists() else 0
        secs, peak = run([self.dvc, "add", "-q", src.name], cwd=project)
        self.results.append(Result(case, "dvc add", secs, peak, (tree_bytes(cache) - before) / MIB))
        return project


def measure(work: Path, scale: float, with_dvc: bool) -> list[Result]:
    data = work / "data"
    data.mkdir()
    loxo = shutil.which("loxo") or str(Path(sys.executable).with_name("loxo"))
    bench = Bench(work, loxo, find_dvc(work) if with_dvc else None)

    big = data / "a.bin"
    make_big(big, int(GIB * scale))
    small = data / "b"
    make_many(small, int(10_000 * scale), 4096)
    tiny = data / "c"
    make_many(tiny, int(200_000 * scale), 1024)
    print("data ready", file=sys.stderr)

    home_a = bench.loxo_put("(a) 1 GiB file", big)
    cp_a = bench.cp("(a) 1 GiB file", big)
    dvc_a = bench.dvc_add("(a) 1 GiB file", big) if with_dvc else None
    for case, src in (("(b) 10k x 4 KiB", small), ("(c) 200k x 1 KiB", tiny)):
        bench.loxo_put(case, src)
        bench.cp(case, src)
        if with_dvc:
            bench.dvc_add(case, src)
        print(f"{case} done", file=sys.stderr)

    with open(big, "ab") as f:  # (d): the same file with 1 MiB appended
        f.write(os.urandom(MIB))
    case = "(d) (a) + 1 MiB re-put"
    bench.loxo_put(case, big, home=home_a)
    shutil.rmtree(cp_a / big.name, ignore_errors=True)
    (cp_a / big.name).unlink(missing_ok=True)
    bench.cp(case, big, into=cp_a)
    if dvc_a is not None:
        bench.dvc_add(case, big, project=dvc_a)
    return bench.results


def verdicts(results: list[Result]) -> list[str]:
    by = {(r.case[:3], r.tool): r for r in results}
    out = []

    def ratio(case: str, a: str, b: str) -> float | None:
        x, y = by.get((case, a)), by.get((case, b))
        return None if x is None or y is None else x.seconds / y.seconds

    def line(ok: bool | None, text: str) -> None:
        out.append(f"- {'n/a ' if ok is None else ('met ' if ok else 'MISSED')} {text}")

    r = ratio("(a)", "loxo put file", "cp -r")
    line(None if r is None else r <= 2, f"(a) loxo within 2x of cp: {r:.2f}x" if r else "(a) no data")
    for case in ("(b)", "(c)"):
        r = ratio(case, "loxo put file", "cp -r")
        line(None if r is None else r <= 3, f"{case} loxo within 3x of cp -r: {r:.2f}x" if r else case)
        d = ratio(case, "dvc add", "loxo put file")
        line(None if d is None else d >= 5,
             f"{case} loxo at least 5x faster than dvc add: {d:.1f}x" if d else f"{case} dvc not run")
    d = by.get(("(d)", "loxo put file"))
    if d is not None and d.stored_mib is not None:
        line(d.stored_mib < 10, f"(d) new objects under 10 MiB: {d.stored_mib:.2f} MiB")
    peak = max((x.peak_mib for x in results if x.tool == "loxo put file"), default=0.0)
    line(peak < 300, f"loxo peak memory under 300 MiB in every case: max {peak:.0f} MiB")
    return out


def table(results: list[Result]) -> str:
    rows = ["| case | tool | wall (s) | peak RSS (MiB) | stored (MiB) |", "|---|---|---:|---:|---:|"]
    for r in results:
        stored = "" if r.stored_mib is None else f"{r.stored_mib:.1f}"
        rows.append(f"| {r.case} | {r.tool} | {r.seconds:.2f} | {r.peak_mib:.0f} | {stored} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink every case (e.g. 0.05)")
    parser.add_argument("--no-dvc", action="store_true", help="skip dvc add")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loxo-bench-", dir=args.workdir))
    try:
        results = measure(work, args.scale, not args.no_dvc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"ingest benchmark, {os.cpu_count()} cores, scale {args.scale}\n")
    print(table(results))
    print()
    print("\n".join(verdicts(results)))


if __name__ == "__main__":
    main()
