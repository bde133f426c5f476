"""Slack end to end: a signed `/cost` request over HTTP until its answer arrives at the response_url, against
the same questions answered in-process, measured in the same run; and where the difference goes.

    python bench/slack_e2e_bench.py [--rows 5000000] [--rounds 3]

A store of `--rows` synthetic FOCUS line items (bench/query_bench.py's generator and 20 questions) is ingested
with `costbot ingest`. Then, in this order:
  direct   a separate process builds the Application as `costbot serve` does (one DuckDB thread per query, the
           configured memory limit) and times, per question, `AnswerService.answer` (the store's work and the
           answer's arithmetic) and `answer_in_slack` (the same plus the Block Kit rendering)
  slack    `costbot serve --http` (its own process) gets the questions one at a time as signed requests; timed
           from the request sent to the ack (HTTP 200) and to the answer arriving at the Slack stub's
           response_url; the service's own log line per command gives its time from ack to answer posted
  direct   again, to bracket the machine's load
Prints p50 / p95 of each, and the median of each step of the path: ack, hand-off to the answer thread and
post (service time less in-process time), rendering (answer_in_slack less answer), the store and arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from query_bench import QUERIES, TEAMS, TODAY, generate  # noqa: E402
from serving import free_port, pct, service_env, wait_healthy  # noqa: E402

SECRET = "bench-secret"


def direct_phase(rounds: int) -> None:
    """In-process baseline (run in its own process, with the service's environment)."""
    from bot.app import SERVE_DUCKDB_THREADS, Application
    from bot.domain.query import Query
    from bot.words import Caller, answer_in_slack

    app = Application(duckdb_threads=SERVE_DUCKDB_THREADS)
    uc = app.use_cases
    answer: dict[str, list[float]] = {t: [] for t in QUERIES}
    slack: dict[str, list[float]] = {t: [] for t in QUERIES}
    for text in QUERIES:  # warm, as the service is after its first questions
        answer_in_slack(uc, app.config, text, Caller("U0ML00001", "C111"))
    for _ in range(rounds):
        for text in QUERIES:
            query = uc.answers.parse(text)
            assert isinstance(query, Query)
            t = time.perf_counter()
            uc.answers.answer(query)
            answer[text].append(time.perf_counter() - t)
            t = time.perf_counter()
            answer_in_slack(uc, app.config, text, Caller("U0ML00001", "C111"))
            slack[text].append(time.perf_counter() - t)
    app.close()
    print(json.dumps({"answer": answer, "slack": slack}))


def run_direct(env: dict[str, str], rounds: int) -> dict[str, dict[str, list[float]]]:
    out = subprocess.run([sys.executable, __file__, "--direct", "--rounds", str(rounds)], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ask_all(url: str, stub: object, rounds: int, tag: str) -> list[tuple[str, float, float]]:
    """(question, ack seconds, answer seconds) for each request, one at a time."""
    from tests.signing import command_body, post

    out = []
    n = 0
    for _ in range(rounds):
        for text in QUERIES:
            name = f"{tag}{n}"
            n += 1
            body = command_body(text, stub.response_url(name))  # type: ignore[attr-defined]
            sent = time.time()
            status, _ = post(url + "/slack/events", body, SECRET)
            acked = time.time()
            assert status == 200, status
            calls = stub.wait_for(lambda cs, name=name: any(c.name == name for c in cs), timeout=60)  # type: ignore[attr-defined]
            answer = next(c for c in calls if c.name == name)
            assert "billing data through" in str(answer.args.get("blocks")), answer.args  # an answer, not an error
            out.append((text, acked - sent, answer.wall - sent))
    return out


def service_seconds(log: Path) -> list[float]:
    """The service's own time from ack to answer posted, per /cost command (its structured log line)."""
    found = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "command" and record.get("outcome") == "ok":
            found.append(float(record["seconds"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 20 questions")
    parser.add_argument("--work", type=Path, help="keep the generated data and store here (reused if present)")
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct:
        direct_phase(args.rounds)
        return
    from tests.slack_stub import SlackStub

    with tempfile.TemporaryDirectory(prefix="costbot-e2e-") as tmp:
        work = args.work or Path(tmp)
        data = work / "data"
        data.mkdir(parents=True, exist_ok=True)
        parquet = work / f"focus-{args.rows}.parquet"
        stub = SlackStub().start()
        port = str(free_port())
        env = service_env(work, data, TEAMS, stub.api_url, port, SECRET, COSTBOT_TODAY=TODAY.isoformat(),
                          COSTBOT_LOG_LEVEL="INFO", COSTBOT_LOG_FORMAT="json")
        if not (data / "costs.duckdb").exists():
            if not parquet.exists():
                generate(args.rows, parquet)
            loaded = subprocess.run([sys.executable, "-m", "bot", "ingest", str(parquet)], env=env, cwd=ROOT,
                                    capture_output=True, text=True)
            assert loaded.returncode == 0, loaded.stderr
        print(f"store: {args.rows:,} rows; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}", flush=True)
        before = run_direct(env, args.rounds)
        log = work / "serve.log"
        with log.open("w") as sink:
            serve = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1",
                                      "--no-scheduler"], env=env, cwd=ROOT, stderr=sink, stdout=sink)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_healthy(url)
                ask_all(url, stub, 1, "warm")
                load_start = os.getloadavg()[0]
                stub.reset()
                timed = ask_all(url, stub, args.rounds, "e2e")
            finally:
                serve.terminate()
                serve.wait(20)
        served = service_seconds(log)[len(QUERIES):]  # less the warm-up round
        after = run_direct(env, args.rounds)
        stub.stop()
    e2e = [a for _, _, a in timed]
    acks = [k for _, k, _ in timed]
    direct_answer = [s for run in (before, after) for v in run["answer"].values() for s in v]
    direct_slack = [s for run in (before, after) for v in run["slack"].values() for s in v]

    def line(label: str, values: list[float]) -> str:
        return (f"{label:58s} p50 {pct(values, .5) * 1000:7.1f} ms  p95 {pct(values, .95) * 1000:7.1f} ms  "
                f"({len(values)})")

    print(f"{len(QUERIES)} questions x {args.rounds}, one at a time; load {load_start:.2f} at the start of the "
          f"Slack phase, {os.getloadavg()[0]:.2f} at the end")
    print(line("Slack HTTP end to end (request sent -> response_url)", e2e))
    print(line("  ack (request sent -> HTTP 200)", acks))
    print(line("  service: ack -> answer posted (its log line)", served))
    print(line("in-process answer_in_slack (answer + Block Kit)", direct_slack))
    print(line("in-process AnswerService.answer (baseline)", direct_answer))
    print(f"ratio end to end / in-process answer: p50 {pct(e2e, .5) / pct(direct_answer, .5):.2f}x, "
          f"p95 {pct(e2e, .95) / pct(direct_answer, .95):.2f}x")
    med = statistics.median
    per_q_answer = {t: med(before["answer"][t] + after["answer"][t]) for t in QUERIES}
    per_q_slack = {t: med(before["slack"][t] + after["slack"][t]) for t in QUERIES}
    per_q_e2e = {t: med([a for q, _, a in timed if q == t]) for t in QUERIES}
    render = med([per_q_slack[t] - per_q_answer[t] for t in QUERIES])
    rest = med([per_q_e2e[t] - per_q_slack[t] for t in QUERIES])
    print(f"where it goes (median over questions of each question's median): store + arithmetic "
          f"{med(list(per_q_answer.values())) * 1000:.1f} ms; Block Kit {render * 1000:.1f} ms; ack "
          f"{med(acks) * 1000:.1f} ms; the rest (request, hand-off to the answer thread, response_url post) "
          f"{rest * 1000:.1f} ms, of which after the ack {(rest - med(acks)) * 1000:.1f} ms")
    print("per question (median ms: answer / answer_in_slack / end to end):")
    for t in QUERIES:
        print(f"  {t:45s} {per_q_answer[t] * 1000:7.1f} {per_q_slack[t] * 1000:7.1f} {per_q_e2e[t] * 1000:7.1f}")


if __name__ == "__main__":
    main()
