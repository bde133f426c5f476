"""Anomaly detection quality: recall on injected spikes and false alerts on the demo data.

    python bench/anomaly_eval.py [--trials 200]

1. Synthetic series (weekday/weekend seasonality, ±8% noise, slow growth) with one spike of 2x–4x the usual
   day injected at a random weekday or weekend: recall = share of spikes flagged on their day.
   The baseline in the same run is a naive rule (yesterday × 1.5) on the same series: its recall and false
   alerts are printed next to costbot's.
2. The demo organization (180 days): alerts per team per month after the first 28 days (the spike is the one
   true anomaly; a new always-on GPU box is a second real change).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.domain.anomalies import AnomalyRules, baseline, is_anomalous

TODAY = date(2026, 11, 28)


def synthetic(rng: random.Random, days: int = 70) -> dict[date, Decimal]:
    start = TODAY - timedelta(days=days)
    level = rng.uniform(300, 3000)
    out = {}
    for i in range(days):
        d = start + timedelta(days=i)
        seasonal = rng.uniform(0.15, 0.5) if d.weekday() >= 5 else 1.0
        out[d] = Decimal(level * seasonal * (1 + 0.002 * i) * rng.uniform(0.92, 1.08)).quantize(Decimal("0.01"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(2026)
    rules = AnomalyRules()
    hits = naive_hits = false_alerts = naive_false = checked_days = 0
    for _ in range(args.trials):
        series = synthetic(rng)
        days = sorted(series)
        spike_day = days[rng.randrange(40, len(days))]
        factor = Decimal(str(round(rng.uniform(2.0, 4.0), 2)))
        series[spike_day] = (series[spike_day] * factor).quantize(Decimal("0.01"))
        for d in days[35:]:
            flagged = is_anomalous(series[d], baseline(series, d), rules)
            naive = series[d] > series[d - timedelta(days=1)] * Decimal("1.5")
            checked_days += 1
            if d == spike_day:
                hits += flagged
                naive_hits += naive
            else:
                false_alerts += flagged
                naive_false += naive
    recall = hits / args.trials
    print(f"synthetic: {args.trials} series, spikes 2x-4x: recall {recall:.3f} (target >= 0.9), "
          f"{false_alerts} false alerts in {checked_days - args.trials} ordinary days")
    print(f"baseline (yesterday x 1.5): recall {naive_hits / args.trials:.3f}, {naive_false} false alerts "
          "(every Monday after a quiet weekend)")

    from bot.app import Application
    from bot.config import Settings
    from bot.demo import write_demo_csv

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "demo.csv"
        write_demo_csv(csv_path, TODAY)
        application = Application(Settings({"COSTBOT_DATA_DIR": tmp, "COSTBOT_TODAY": TODAY.isoformat(),
                                            "DATABASE_URL": f"sqlite:///{tmp}/state.db"}))
        services = application.use_cases
        services.ingest.ingest([csv_path])
        alerts: dict[tuple[str, str], int] = defaultdict(int)
        first = TODAY - timedelta(days=150)
        day = first
        while day < TODAY:
            for a in services.anomalies.check_anomalies(day):
                alerts[(a.team, day.strftime("%Y-%m"))] += 1
                print(f"  alert: {day} {a.team} {a.service}: {a.causes[0].name if a.causes else '?'}")
            day += timedelta(days=1)
        months = len({(first + timedelta(days=i)).strftime("%Y-%m") for i in range(150)})
        teams = len(application.config.teams)
        worst = max(alerts.values(), default=0)
        print(f"demo data: {sum(alerts.values())} alerts over {teams} teams x {months} months; at most {worst} for "
              "one team in one month (target <= 1 false alert per team per month)")


if __name__ == "__main__":
    main()
