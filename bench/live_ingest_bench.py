"""Answers while a big ingest runs into the live service.

    python bench/live_ingest_bench.py [--base-rows 5000000] [--ingest-rows 5000000] [--rounds 3]

`costbot serve --http` (its own process, as in production) holds a store of `--base-rows` synthetic FOCUS line
items (bench/query_bench.py's generator). The same 20 `/cost` questions are asked over signed Slack HTTP,
one after another: first on the idle service (`--rounds` times), then again and again while
`costbot ingest` — a separate process, going through the service's local channel — loads `--ingest-rows` more.
Latency is from the request sent to the answer arriving at the response_url. Prints p50/p95/max for both
phases, their ratio, the ingest's time and rows, and how busy the machine was (load average, and the share
of CPU time used by other processes than the benchmark's own).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from query_bench import QUERIES, TEAMS, TODAY, generate  # noqa: E402
from serving import free_port, pct, service_env, wait_healthy  # noqa: E402

from tests.signing import command_body, post  # noqa: E402
from tests.slack_stub import SlackStub  # noqa: E402

SECRET = "bench-secret"


class CpuWatch:
    """CPU time of the whole machine (/proc/stat) against that of our own processes (/proc/PID/stat)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.start = self._sample()

    @staticmethod
    def _machine() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def _ours(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(x) for x in parts[11:15])  # utime, stime, cutime, cstime
            except (FileNotFoundError, IndexError):
                pass
        return total

    def _sample(self) -> tuple[int, int, int]:
        busy, total = self._machine()
        return busy, total, self._ours()

    def report(self, more_pids: tuple[int, ...] = ()) -> str:
        self.pids = [*self.pids, *more_pids]
        busy, total, ours = self._sample()
        span = max(1, total - self.start[1])
        machine = (busy - self.start[0]) / span
        own = max(0, ours - self.start[2]) / span
        load1, load5, _ = os.getloadavg()
        others = max(0.0, machine - own)
        return (f"machine CPU busy {machine:.0%} of {os.cpu_count()} cores, of which others {others:.0%}"
                f"; load average {load1:.2f} (1 min), {load5:.2f} (5 min)")


def ask_all(url: str, stub: SlackStub, tag: str, stop: threading.Event | None = None,
            rounds: int = 1, when: list[tuple[float, float, str]] | None = None) -> list[float]:
    """The questions one after another (until `stop` is set, or `rounds` times); latency of each answer (and in
    `when`: (sent at, latency, question) for each)."""
    latencies: list[float] = []
    n = 0
    while True:
        for text in QUERIES:
            name = f"{tag}{n}"
            n += 1
            sent = time.time()
            status, _ = post(url + "/slack/events", command_body(text, stub.response_url(name)), SECRET)
            assert status == 200, status
            calls = stub.wait_for(lambda cs, name=name: any(c.name == name for c in cs), timeout=60)
            answer = next(c for c in calls if c.name == name)
            assert "billing data through" in str(answer.args.get("blocks")), answer.args  # an answer, not an error
            latencies.append(answer.wall - sent)
            if when is not None:
                when.append((sent, answer.wall - sent, text))
        rounds -= 1
        if (stop is None and rounds <= 0) or (stop is not None and stop.is_set()):
            return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-rows", type=int, default=5_000_000)
    parser.add_argument("--ingest-rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="idle rounds of the 20 questions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="costbot-livebench-") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        base, bulk = work / "base.parquet", work / "bulk.parquet"
        t = time.perf_counter()
        generate(args.base_rows, base)
        generate(args.ingest_rows, bulk)
        print(f"generated {args.base_rows:,} + {args.ingest_rows:,} rows in {time.perf_counter() - t:.0f} s",
              flush=True)
        stub = SlackStub().start()
        port = str(free_port())
        env = service_env(work, data, TEAMS, stub.api_url, port, SECRET, COSTBOT_TODAY=TODAY.isoformat(),
                          COSTBOT_LOG_LEVEL="WARNING")
        t = time.perf_counter()
        loaded = subprocess.run([sys.executable, "-m", "bot", "ingest", str(base), "--source", "base"], env=env,
                                capture_output=True, text=True)
        assert loaded.returncode == 0, loaded.stderr
        print(f"base store: {args.base_rows:,} rows in {time.perf_counter() - t:.0f} s (no service running)",
              flush=True)
        serve = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1",
                                  "--no-scheduler"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url)
            ask_all(url, stub, "warm")
            watch = CpuWatch([os.getpid(), serve.pid])
            idle = ask_all(url, stub, "idle", rounds=args.rounds)
            idle_cpu = watch.report()
            print(f"idle (before the ingest): {len(idle)} answers  p50 {pct(idle, .5) * 1000:.1f} ms  "
                  f"p95 {pct(idle, .95) * 1000:.1f} ms  max {max(idle) * 1000:.1f} ms   [{idle_cpu}]", flush=True)
            stub.reset()
            watch = CpuWatch([os.getpid(), serve.pid])
            done = threading.Event()
            started = time.perf_counter()
            started_wall = time.time()
            timeline: list[tuple[float, float, str]] = []
            ingest = subprocess.Popen([sys.executable, "-m", "bot", "ingest", str(bulk), "--source", "bulk",
                                       "--replace-source", "base"],  # the same billing account and months
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            waiter = threading.Thread(target=lambda: (ingest.wait(), done.set()), daemon=True)
            waiter.start()
            busy = ask_all(url, stub, "busy", stop=done, when=timeline)
            ingest_s = time.perf_counter() - started
            _, err = ingest.communicate()
            busy_cpu = watch.report((ingest.pid,))
            assert ingest.returncode == 0, err
            rows_after = subprocess.run([sys.executable, "-m", "bot", "status", "--json"], env=env,
                                        capture_output=True, text=True)
        finally:
            serve.terminate()
            serve.wait(20)
            stub.stop()
    import json

    rows = json.loads(rows_after.stdout)["rows"] if rows_after.returncode == 0 else "?"
    print(f"\n{len(QUERIES)} /cost questions over signed Slack HTTP, one at a time, costbot serve --http "
          f"({os.cpu_count()} cores)")
    print(f"idle:   {len(idle):4d} answers  p50 {pct(idle, .5) * 1000:7.1f} ms  p95 {pct(idle, .95) * 1000:7.1f} ms"
          f"  max {max(idle) * 1000:7.1f} ms   [{idle_cpu}]")
    print(f"ingest: {len(busy):4d} answers  p50 {pct(busy, .5) * 1000:7.1f} ms  p95 {pct(busy, .95) * 1000:7.1f} ms"
          f"  max {max(busy) * 1000:7.1f} ms   [{busy_cpu}]")
    print(f"ratio p95 ingest / idle: {pct(busy, .95) / pct(idle, .95):.2f}x (target <= 2x); slowest answer "
          f"{max(busy) * 1000:.0f} ms (target < 2000 ms)")
    slowest = sorted(timeline, key=lambda t: -t[1])[:5]
    print("slowest answers during the ingest: " + "; ".join(
        f"{lat * 1000:.0f} ms at {sent - started_wall:.0f} s ({text})" for sent, lat, text in slowest))
    print(f"the ingest: {args.ingest_rows:,} rows through the service in {ingest_s:.1f} s "
          f"({args.ingest_rows / ingest_s / 1e6:.2f} M rows/s); store rows after: {rows}")


if __name__ == "__main__":
    main()
