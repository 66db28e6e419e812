#!/usr/bin/env python3
"""Weekly weather aggregates computed independently of the Rust code, with the standard library
only, from an Open-Meteo answer (a fixture in its format). The end-to-end test compares the API's
`step=week` answer with this script's output.

Rules (as docs/weather.md states them): ISO weeks of the local dates; precipitation, ET0 and GDD
(base 10 °C, (t_max + t_min)/2 − 10, at least 0) are sums, null when a day of the week lacks the
value; water balance = precipitation − ET0; t_min the lowest, t_max the highest day value (days
with a value); t_mean the mean of the daily means, null when one is missing.

    python3 scripts/weather_weekly.py crates/vivacampo-imagery/tests/fixtures/open-meteo/rio-verde-2025-26.json \
        > crates/vivacampo/tests/fixtures/weather-weekly-expected.json
"""
import datetime
import json
import sys


def weekly(doc, base=10.0):
    d = doc["daily"]
    weeks = {}
    for i, t in enumerate(d["time"]):
        date = datetime.date.fromisoformat(t)
        iso = date.isocalendar()
        weeks.setdefault((iso[0], iso[1]), []).append(i)

    def total(values):
        return None if any(v is None for v in values) else sum(values)

    out = []
    for (year, week), idx in sorted(weeks.items()):
        col = lambda name: [d[name][i] for i in idx]
        tmin, tmax = col("temperature_2m_min"), col("temperature_2m_max")
        precip = total(col("precipitation_sum"))
        et0 = total(col("et0_fao_evapotranspiration"))
        gdd = total([None if lo is None or hi is None else max(0.0, (hi + lo) / 2 - base)
                     for lo, hi in zip(tmin, tmax)])
        means = col("temperature_2m_mean")
        known_min = [v for v in tmin if v is not None]
        known_max = [v for v in tmax if v is not None]
        out.append({
            "year": year,
            "week": week,
            "week_start": datetime.date.fromisocalendar(year, week, 1).isoformat(),
            "precip_mm": precip,
            "et0_mm": et0,
            "water_balance_mm": None if precip is None or et0 is None else precip - et0,
            "gdd": gdd,
            "t_min": min(known_min) if known_min else None,
            "t_max": max(known_max) if known_max else None,
            "t_mean": None if any(v is None for v in means) else sum(means) / len(means),
            "days": len(idx),
        })
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    json.dump({"from": doc["daily"]["time"][0], "to": doc["daily"]["time"][-1], "weeks": weekly(doc)},
              sys.stdout, indent=1)
    sys.stdout.write("\n")
