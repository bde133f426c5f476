"""Scale benchmark: a year of hourly resource-level line items (bench/focus_year.py), ingested month by month,
then 30 questions; every figure against a baseline measured in the same run.

    python bench/focus_year.py DATA --rows 100000000
    python bench/scale_bench.py DATA WORK [--runs 5] [--memory-limit 1GB] [--variant default] [--query-limit 256MB]

Phases run in their own processes so each peak RSS is its own:
  ceiling  DuckDB's bare `CREATE TABLE AS SELECT * FROM read_parquet(month)` over the same files (ingest ceiling)
  ingest   `DuckDBCostStore.ingest_files` month by month (validation, replacement, tag columns, rollup: the
           whole command's work), peak RSS of each month and of the whole, the most the store spilled to disk
  insert   the ingest phase for the first `--insert-months` months with the files read into DuckDB's own table
           (`keep_files=False`, how every ingest worked before files were kept): the kept-files lever's baseline
  command  `costbot ingest MONTH` month by month, each its own process into a fresh data folder: the whole
           command as a user runs it (interpreter start, configuration, the store's open and checkpoint)
  query    the 30 questions through AnswerService with the daily rollup, and again from the line items only
           (the rollup lever); every answer of one equals the other's; RSS at rest after the questions. Run twice:
           right after the ingest (line items read from the kept files), and after the compaction
  compact  what `serve` does once idle: every kept file folded into the store's table (tag columns materialized)

`--variant LIMIT` (repeatable) ingests the year once more per variant, before the measured ingest, with DuckDB's
memory limit LIMIT (`default`: DuckDB's own, 80 % of RAM): the memory lever against its baseline in the same run.
Each variant's store answers the 30 questions once (RSS at rest, answers compared with the measured store's).
`--query-limit LIMIT` (repeatable) answers the questions on the measured store again with that memory limit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from focus_year import ASKED_ON as TODAY
from focus_year import QUESTIONS, TEAMS
from serving import pct


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Linux: VmHWM (the peak RSS) starts again from the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


def hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class SpillWatch:
    """The most the store's temporary folder (where DuckDB spills beyond its memory limit) held, polled."""

    def __init__(self, folder: Path) -> None:
        import threading

        self.folder, self.most, self._stop = folder, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            try:
                size = sum(f.stat().st_size for f in self.folder.iterdir())
            except OSError:
                continue
            self.most = max(self.most, size)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.most / 1e6


def rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def files_in(data: Path) -> list[Path]:
    return sorted(data.glob("*.parquet"))


def ceiling(data: Path, work: Path, months: int) -> dict[str, object]:
    import duckdb

    path = work / "ceiling.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    t = time.perf_counter()
    rows = 0
    for i, f in enumerate(files_in(data)[:months]):
        verb = "CREATE TABLE c AS" if i == 0 else "INSERT INTO c"
        con.execute(f"{verb} SELECT * FROM read_parquet('{f}')")
        rows = con.execute("SELECT count(*) FROM c").fetchone()[0]  # type: ignore[index]
    seconds = time.perf_counter() - t
    con.close()
    size = path.stat().st_size
    path.unlink()
    return {"rows": rows, "seconds": seconds, "peak_mb": peak_mb(), "size_mb": size / 1e6}


def items_folder(path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bot.adapters.duckdb_items import ItemFiles

    return ItemFiles(str(path)).folder


def store_bytes(path: Path) -> int:
    """The store file and the billing files it keeps beside it (bot/adapters/duckdb_items.py)."""
    items = items_folder(path)
    kept = sum(f.stat().st_size for f in items.iterdir()) if items.is_dir() else 0
    return path.stat().st_size + kept


def command(data: Path, work: Path) -> dict[str, object]:
    """`costbot ingest` of each month in its own process, timed from outside (the whole command)."""
    folder = work / "command"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = folder / "costbot.yaml"
    config.write_text("teams:\n" + "".join(f"  team-{t}:\n    tags: {{team: {t}}}\n" for t in TEAMS))
    env = {**os.environ, "COSTBOT_DATA_DIR": str(folder / "data"), "COSTBOT_CONFIG": str(config),
           "COSTBOT_DUCKDB_MEMORY": "1GB"}
    costbot = str(Path(sys.executable).with_name("costbot"))
    months = []
    for f in files_in(data):
        t = time.perf_counter()
        subprocess.run([costbot, "ingest", str(f)], check=True, env=env, capture_output=True)
        months.append(time.perf_counter() - t)
    return {"seconds": sum(months), "months": months}


def _config():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bot.config import parse_config

    return parse_config({"teams": {f"team-{t}": {"tags": {"team": t}} for t in TEAMS}})


def _limit(text: str) -> str | None:
    return None if text == "default" else text


def ingest(data: Path, work: Path, name: str, memory_limit: str, first_months: int | None = None,
           keep_files: bool = True) -> dict[str, object]:
    config = _config()
    from bot.adapters.duckdb_store import DuckDBCostStore

    path = work / name
    path.unlink(missing_ok=True)
    shutil.rmtree(items_folder(path), ignore_errors=True)
    store = DuckDBCostStore(path, index_keys=config.indexed_tag_keys(), memory_limit=_limit(memory_limit),
                            keep_files=keep_files)
    store.cursor().close()  # the composition root's first use: tag columns made
    spill = SpillWatch(Path(f"{path}.tmp"))
    months, month_peaks = [], []
    t = time.perf_counter()
    rows = 0
    for f in files_in(data)[:first_months]:
        reset_peak()
        m = time.perf_counter()
        rows += store.ingest_files([f]).rows
        months.append(time.perf_counter() - m)
        month_peaks.append(hwm_mb())
    seconds = time.perf_counter() - t
    rolled = store._fetch("SELECT count(*) FROM daily_costs", {})[0][0]
    setting = store._fetch("SELECT current_setting('memory_limit')", {})[0][0]
    store.close()
    return {"rows": rows, "seconds": seconds, "months": months, "month_peaks_mb": month_peaks,
            "peak_mb": peak_mb(), "spilled_mb": spill.stop(), "memory_limit": setting,
            "size_mb": store_bytes(path) / 1e6, "rollup_rows": rolled}


def query(work: Path, runs: int, name: str = "costs.duckdb", memory_limit: str = "default",
          items: bool = True) -> dict[str, object]:
    config = _config()
    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.domain.query import Query
    from bot.services.allocation import AllocationService
    from bot.services.answers import AnswerService
    from bot.services.scopes import ScopeResolver

    def service(rollups: bool) -> AnswerService:
        store = DuckDBCostStore(work / name, read_only=True, rollups=rollups, memory_limit=_limit(memory_limit))
        scopes = ScopeResolver(store, config)
        return AnswerService(store, scopes, AllocationService(store, scopes, config, store), config, lambda: TODAY)

    out: dict[str, object] = {}
    answers: dict[bool, dict[str, object]] = {}
    for rollups in (True, False) if items else (True,):
        svc = service(rollups)
        samples: dict[str, list[float]] = {}
        answers[rollups] = {}
        for text in QUESTIONS:
            q = svc.parse(text)
            assert isinstance(q, Query), text
            answers[rollups][text] = svc.answer(q)  # warm
            times = []
            for _ in range(runs if rollups else max(1, runs // 2)):
                t = time.perf_counter()
                svc.answer(q)
                times.append(time.perf_counter() - t)
            samples[text] = times
        out["rollup" if rollups else "items"] = samples
        if rollups:
            out["rest_mb"] = rss_now_mb()
            svc.queries.release_idle_memory(0)  # type: ignore[attr-defined]  # what serve does once idle
            out["released_mb"] = rss_now_mb()
        svc.queries.close()  # type: ignore[attr-defined]
    if items:
        out["equal"] = [t for t in QUESTIONS if answers[True][t] == answers[False][t]]
    out["digests"] = {t: hashlib.sha256(repr(answers[True][t]).encode()).hexdigest() for t in QUESTIONS}
    out["peak_mb"] = peak_mb()
    return out


def compact(work: Path, name: str, memory_limit: str) -> dict[str, object]:
    from bot.adapters.duckdb_store import DuckDBCostStore

    store = DuckDBCostStore(work / name, memory_limit=_limit(memory_limit))
    store.cursor().close()  # opened, as the service's store is
    t = time.perf_counter()
    files = 0
    while store.compact_when_idle(0):
        files += 1
    seconds = time.perf_counter() - t
    store.close()
    # the folded files' copies are deleted ten minutes later (questions may still read them): not counted
    return {"files": files, "seconds": seconds, "size_mb": (work / name).stat().st_size / 1e6, "peak_mb": peak_mb()}


def _ingest_line(label: str, i: dict[str, object], c_rate: float) -> str:
    rate = int(i["rows"]) / float(i["seconds"]) / 1e6  # type: ignore[arg-type, call-overload]
    months = [float(m) for m in i["months"]]  # type: ignore[attr-defined]
    peaks = [float(m) for m in i["month_peaks_mb"]]  # type: ignore[attr-defined]
    return (f"costbot ingest, {label} (memory_limit {i['memory_limit']}; month by month, whole command): "
            f"{i['seconds']:.1f} s = {rate:.2f} M rows/s ({rate / c_rate:.2f}x the ceiling), months "
            f"{min(months):.1f}-{max(months):.1f} s, peak RSS {i['peak_mb']:.0f} MB (months: "
            f"{', '.join(f'{p:.0f}' for p in peaks)}), spilled at most {i['spilled_mb']:.0f} MB")


def _answers_line(v: dict[str, object]) -> str:
    times = [s for x in v["rollup"].values() for s in x]  # type: ignore[attr-defined]
    return (f"answers with the rollup p50 {pct(times, 0.5) * 1000:.0f} ms, p95 {pct(times, 0.95) * 1000:.0f} ms "
            f"({len(times)}), RSS at rest {v['rest_mb']:.0f} MB")


def run_phase(*args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--phase", choices=["ceiling", "ingest", "insert", "command", "query", "compact"])
    parser.add_argument("--insert-months", type=int, default=2,
                        help="months the baseline ingest (files read into DuckDB's table) loads")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ceiling-months", type=int, default=12, help="months the bare ceiling loads (rate only)")
    parser.add_argument("--skip-ingest", action="store_true", help="query the store WORK already holds")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB's memory limit (default: DuckDB's own)")
    parser.add_argument("--variant", action="append", default=[], metavar="LIMIT",
                        help="also ingest with this memory limit, first")
    parser.add_argument("--query-limit", action="append", default=[], metavar="LIMIT",
                        help="also answer the questions on the measured store with this memory limit, last")
    parser.add_argument("--store", default="costs.duckdb", help=argparse.SUPPRESS)
    parser.add_argument("--no-items", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = {"ceiling": lambda: ceiling(args.data, args.work, args.ceiling_months),
                  "ingest": lambda: ingest(args.data, args.work, args.store, args.memory_limit),
                  "insert": lambda: ingest(args.data, args.work, "insert.duckdb", args.memory_limit,
                                           args.insert_months, keep_files=False),
                  "command": lambda: command(args.data, args.work),
                  "compact": lambda: compact(args.work, args.store, args.memory_limit),
                  "query": lambda: query(args.work, args.runs, args.store, args.memory_limit,
                                         not args.no_items)}[args.phase]()
        print(json.dumps(result))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    size = sum(f.stat().st_size for f in files_in(args.data))
    print(f"{len(files_in(args.data))} Parquet files, {size / 1e6:.0f} MB; {os.cpu_count()} cores; "
          f"load {os.getloadavg()[0]:.2f}")
    if not args.skip_ingest:
        c = run_phase(str(args.data), str(args.work), "--phase", "ceiling", "--ceiling-months",
                      str(args.ceiling_months))
        c_rate = int(c["rows"]) / float(c["seconds"]) / 1e6  # type: ignore[arg-type, call-overload]
        print(f"ceiling (bare CREATE TABLE AS, month by month): {c['rows']:,} rows in {c['seconds']:.1f} s = "
              f"{c_rate:.2f} M rows/s, peak RSS {c['peak_mb']:.0f} MB, {c['size_mb']:.0f} MB on disk", flush=True)
        variants = []
        for n, variant in enumerate(args.variant):
            name = f"variant-{n}.duckdb"
            v = run_phase(str(args.data), str(args.work), "--phase", "ingest", "--store", name,
                          "--memory-limit", variant)
            print(_ingest_line(f"variant {variant}", v, c_rate), flush=True)
            variants.append((variant, name))
        i = run_phase(str(args.data), str(args.work), "--phase", "ingest", "--memory-limit", args.memory_limit)
        rows = int(i["rows"])  # type: ignore[call-overload]
        print(_ingest_line(f"measured {args.memory_limit}", i, c_rate), flush=True)
        b = run_phase(str(args.data), str(args.work), "--phase", "insert", "--insert-months",
                      str(args.insert_months), "--memory-limit", args.memory_limit)
        b_rate = int(b["rows"]) / float(b["seconds"]) / 1e6  # type: ignore[arg-type, call-overload]
        kept = [float(m) for m in i["months"]][:args.insert_months]  # type: ignore[attr-defined]
        print(f"baseline, files read into DuckDB's table (the ingest before files were kept), first "
              f"{args.insert_months} months: {b['seconds']:.1f} s = {b_rate:.2f} M rows/s; the same months kept as "
              f"files: {sum(kept):.1f} s (kept-files lever {float(b['seconds']) / sum(kept):.1f}x)", flush=True)
        (args.work / "insert.duckdb").unlink()
        cmd = run_phase(str(args.data), str(args.work), "--phase", "command")
        cmd_rate = rows / float(cmd["seconds"]) / 1e6  # type: ignore[arg-type]
        cmd_months = [float(m) for m in cmd["months"]]  # type: ignore[attr-defined]
        print(f"`costbot ingest MONTH`, month by month, each its own process (the whole command): "
              f"{cmd['seconds']:.1f} s = {cmd_rate:.2f} M rows/s ({cmd_rate / c_rate:.2f}x the ceiling), months "
              f"{min(cmd_months):.1f}-{max(cmd_months):.1f} s", flush=True)
        print(f"store: {i['size_mb']:.0f} MB ({float(i['size_mb']) / rows * 1e8 / 1e3:.1f} GB per 100M rows), "  # type: ignore[arg-type]
              f"rollup {int(i['rollup_rows']):,} rows ({rows / int(i['rollup_rows']):.1f}x fewer)")  # type: ignore[call-overload]
    q = run_phase(str(args.data), str(args.work), "--phase", "query", "--runs", str(args.runs),
                  "--memory-limit", args.memory_limit)
    if not args.skip_ingest:
        for variant, name in variants:
            v = run_phase(str(args.data), str(args.work), "--phase", "query", "--runs", "1", "--no-items",
                          "--store", name, "--memory-limit", variant)
            same = sum(v["digests"][t] == q["digests"][t] for t in QUESTIONS)  # type: ignore[index]
            print(f"variant {variant}: {_answers_line(v)}; answers equal to the measured store's: "
                  f"{same}/{len(QUESTIONS)}", flush=True)
            (args.work / name).unlink()
    for limit in args.query_limit:
        v = run_phase(str(args.data), str(args.work), "--phase", "query", "--runs", str(args.runs), "--no-items",
                      "--memory-limit", limit)
        same = sum(v["digests"][t] == q["digests"][t] for t in QUESTIONS)  # type: ignore[index]
        print(f"the measured store queried with memory_limit {limit}: {_answers_line(v)}; answers equal: "
              f"{same}/{len(QUESTIONS)}", flush=True)
    report(q, "right after the ingest: line items read from the kept files")
    c = run_phase(str(args.data), str(args.work), "--phase", "compact", "--memory-limit", args.memory_limit)
    print(f"\ncompaction (what serve does once idle): {c['files']} kept files folded into the table in "
          f"{c['seconds']:.1f} s, peak RSS {c['peak_mb']:.0f} MB; store file now {c['size_mb']:.0f} MB (the "
          "folded copies go ten minutes later)", flush=True)
    after = run_phase(str(args.data), str(args.work), "--phase", "query", "--runs", str(args.runs), "--no-items",
                      "--memory-limit", args.memory_limit)
    report(after, "once the idle service has folded the kept files into its table")
    same = sum(after["digests"][t] == q["digests"][t] for t in QUESTIONS)  # type: ignore[index]
    print(f"answers equal before and after the compaction: {same}/{len(QUESTIONS)} (the line-item questions read "
          "the folded rows)")


def report(q: dict[str, object], when: str) -> None:
    print(f"\n== answers {when}")
    rolled = [s for v in q["rollup"].values() for s in v]  # type: ignore[attr-defined]
    print(f"answers with the rollup:  p50 {pct(rolled, 0.5) * 1000:.0f} ms, p95 {pct(rolled, 0.95) * 1000:.0f} ms, "
          f"max {max(rolled) * 1000:.0f} ms over {len(rolled)} answers; RSS at rest {q['rest_mb']:.0f} MB, "
          f"{q['released_mb']:.0f} MB once the idle store released its cached pages")
    if "items" not in q:
        print("per question (median ms with rollup):")
        for text in QUESTIONS:
            print(f"  {text:58s} {statistics.median(q['rollup'][text]) * 1000:8.1f}")  # type: ignore[index]
        return
    items = [s for v in q["items"].values() for s in v]  # type: ignore[attr-defined]
    print(f"answers from line items: p50 {pct(items, 0.5) * 1000:.0f} ms, p95 {pct(items, 0.95) * 1000:.0f} ms "
          f"(rollup lever: p50 {pct(items, 0.5) / pct(rolled, 0.5):.1f}x, "
          f"p95 {pct(items, 0.95) / pct(rolled, 0.95):.1f}x)")
    print(f"answers equal with and without the rollup: {len(q['equal'])}/{len(QUESTIONS)}")  # type: ignore[arg-type]
    print("per question (median ms with rollup / from line items):")
    for text in QUESTIONS:
        r = statistics.median(q["rollup"][text]) * 1000  # type: ignore[index]
        n = statistics.median(q["items"][text]) * 1000  # type: ignore[index]
        print(f"  {text:58s} {r:8.1f} {n:9.1f}")


if __name__ == "__main__":
    main()
