#!/usr/bin/env python3
"""Labelled synthetic field series for measuring the signal rules (standard library only).

Writes crates/vivacampo-core/tests/fixtures/signal-scenarios.json, read by the Rust test
`signal_scenarios` and the report `cargo bench -p vivacampo-core --bench signals`.

Each scenario is one field in the Brazilian Cerrado (wet season November-March, dry May-September)
observed weekly from 2023-W27 to 2026-W26: two earlier seasons (the field's history; some fields
are new and have only the 4 weeks before the evaluated season) and the evaluated season
2025-W27..2026-W26, during which the rules run once per week on what was known that week.

What a week holds, as the product stores it: the status (OK / CLOUDY / NO_DATA), the day of the
newest Sentinel-2 pass (5-day revisit), the cloud fraction and valid pixel ratio, NDVI mean, p10
and p90, NDMI and BSI means (OK weeks only), and the week's precipitation and reference
evapotranspiration (ET0) when the field has weather.

The model:
- crops follow a double logistic (green-up, plateau, senescence) from their sowing day, then an
  abrupt harvest to straw (NDVI ~0.22) and a slow fallow; sowing moves up to +-10 days from year
  to year; soybean (sown late October), summer maize (early October), second-crop maize after
  soybean ("safrinha", February), irrigated maize sown in May, and an undeclared generic crop;
- pastures follow the rain: a yearly cosine peaking mid-February;
- NDMI and BSI are linear in NDVI (moisture falls and bare soil rises as the canopy thins), plus
  each event's own effect;
- clouds are a Markov chain, far more likely (and persistent) in the wet season; CLOUDY weeks have
  scenes but too few clear pixels, NO_DATA weeks none;
- noise: field means vary by 0.012-0.025 NDVI from week to week (noisy fields 0.035-0.045, plus
  haze that the cloud mask missed on 6 % of clear weeks: -0.05..-0.15 with some cloud fraction).

Events in the evaluated season and their labels (`required` labels count for recall; optional
ones are other correct descriptions of the same event, so they are not false alarms):
- drought: 4-6 weeks with almost no rain during vegetative growth; NDMI falls first, NDVI a week
  later; WATER_STRESS required;
- pest: a local drop (the worst tenth of the field falls far more than the mean) that persists;
  PERSISTENT_ANOMALY required;
- hail: an abrupt one-week drop with partial regrowth; RAPID_DECLINE required;
- low vigor: a season peaking 0.2-0.35 below the field's usual; LOW_VIGOR required;
- pasture degradation: the wet-season peak falls season after season while bare soil (BSI)
  rises; PASTURE_DEGRADATION required;
- every crop harvest in the season: HARVEST_DETECTED required (optional if the crop never peaked);
- every run of 3 or more weeks without a clear image: NO_RECENT_DATA required.

Healthy field-seasons (no event but harvests and cloud gaps) are the false-alarm denominator.

Run (deterministic; the output is committed):

    python3 scripts/signal-scenarios.py

A held-out set (the rules were tuned on the committed one; a set from another seed shows how
much of that is overfitting):

    python3 scripts/signal-scenarios.py --seed 7 --out /tmp/holdout.json
    SIGNAL_SCENARIOS=/tmp/holdout.json cargo bench -p vivacampo-core --bench signals
"""

import argparse
import datetime as dt
import json
import math
import random
from pathlib import Path

SEED = 20261205
FIRST = dt.date.fromisocalendar(2023, 27, 1)
N_WEEKS = 156
EVAL_FROM = 104  # 2025-W27
NO_HISTORY_FROM = 100  # new fields: 4 weeks before the evaluated season
BASE = 0.2  # bare soil / straw NDVI
OUT = Path(__file__).resolve().parent.parent / "crates/vivacampo-core/tests/fixtures/signal-scenarios.json"

# Crop curves: sowing day of year, green-up midpoint and senescence midpoint (days after sowing),
# NDVI after senescence, harvest (days after sowing) and peak NDVI.
CROPS = {
    "soy": dict(sow=300, up=30, sen=100, sen_level=0.50, harvest=114, peak=0.86, declared="SOYBEAN"),
    "maize": dict(sow=278, up=34, sen=118, sen_level=0.45, harvest=138, peak=0.83, declared="MAIZE"),
    "safrinha": dict(sow=48, up=32, sen=105, sen_level=0.45, harvest=126, peak=0.78, declared="MAIZE"),
    "irrigated": dict(sow=130, up=34, sen=112, sen_level=0.45, harvest=132, peak=0.84, declared="MAIZE"),
    "generic": dict(sow=300, up=32, sen=92, sen_level=0.50, harvest=108, peak=0.76, declared=None),
}
# Weeks after the green-up anchor (NDVI first >= 0.45) before which an event is placed, so that
# it happens in vegetative growth, not at maturity.
MATURITY_WEEKS = {"soy": 9, "maize": 11, "safrinha": 10, "irrigated": 10, "generic": 8}


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def week_date(i):
    return FIRST + dt.timedelta(days=7 * i)


def iso(i):
    y, w, _ = week_date(i).isocalendar()
    return [y, w]


def wetness(day):
    m = day.month
    if m in (11, 12, 1, 2, 3):
        return "wet"
    if m in (4, 10):
        return "transition"
    return "dry"


class Season:
    """One crop season of a field: its sowing date and curve parameters."""

    def __init__(self, crop, sow, peak, harvest_len):
        self.crop = crop
        self.p = CROPS[crop]
        self.sow = sow
        self.peak = peak
        self.harvest = sow + dt.timedelta(days=harvest_len)

    def anchor(self):
        """Day the NDVI crosses 0.45 going up (the rules' green-up anchor)."""
        g = (0.45 - BASE) / (self.peak - BASE)
        if g >= 1:
            return None
        d = self.p["up"] + 6 * math.log(g / (1 - g))
        return self.sow + dt.timedelta(days=d)

    def ndvi(self, day):
        d = (day - self.sow).days
        g = sigmoid((d - self.p["up"]) / 6)
        s = sigmoid((d - self.p["sen"]) / 7)
        sen_level = min(self.p["sen_level"], self.peak - 0.05)
        return BASE + (self.peak - BASE) * g - (self.peak - sen_level) * s


class Field:
    def __init__(self, rng, rotation, noise, haze):
        self.rng = rng
        self.noise = noise
        self.haze = haze
        self.seasons = []
        self.pasture = rotation == ["pasture"]
        self.offset = rng.uniform(-0.03, 0.03)
        self.pasture_peaks = {}
        if not self.pasture:
            shift = rng.randint(-12, 12)
            peak = {c: CROPS[c]["peak"] + rng.uniform(-0.04, 0.03) for c in rotation}
            for year in range(2022, 2027):
                prev_harvest = None
                for crop in rotation:
                    p = CROPS[crop]
                    if prev_harvest is not None and crop == "safrinha":
                        sow = prev_harvest + dt.timedelta(days=rng.randint(3, 8))
                    else:
                        sow = dt.date(year, 1, 1) + dt.timedelta(days=p["sow"] + shift + rng.randint(-10, 10))
                    season = Season(crop, sow, peak[crop], p["harvest"] + rng.randint(-5, 5))
                    self.seasons.append(season)
                    prev_harvest = season.harvest
            self.seasons.sort(key=lambda s: s.sow)
        else:
            for season_year in range(2022, 2027):
                self.pasture_peaks[season_year] = rng.gauss(0, 0.02)
        self.degradation = 0.0  # pasture: peak loss per season
        self.effects = []  # functions (day) -> (d_ndvi, d_ndmi, d_bsi, d_p10)

    def season_at(self, day):
        current = None
        for s in self.seasons:
            if s.sow <= day:
                current = s
        return current

    def evaluated_seasons(self):
        lo, hi = week_date(EVAL_FROM), week_date(N_WEEKS)
        return [s for s in self.seasons if lo - dt.timedelta(days=60) <= s.sow < hi]

    def truth(self, day):
        """True NDVI, NDMI, BSI and the extra p10 drop on `day`."""
        if self.pasture:
            season_year = day.year if day.month >= 7 else day.year - 1
            idx = season_year - 2023
            doy = day.timetuple().tm_yday
            c = math.cos((doy - 45) / 365 * 2 * math.pi)
            amp = 0.17 + self.pasture_peaks[season_year]
            loss = self.degradation * max(idx, 0) * (0.6 + 0.4 * c)
            ndvi = 0.5 + self.offset + amp * c - loss
            bsi_extra = self.degradation * max(idx, 0) * 0.8
        else:
            s = self.season_at(day)
            if s is None:
                ndvi = 0.26
            elif day < s.harvest:
                ndvi = s.ndvi(day)
            else:
                ndvi = 0.22 + min(0.1, 0.0015 * (day - s.harvest).days)
            ndvi += self.offset * 0.5
            bsi_extra = 0.0
        ndmi = 1.05 * ndvi - 0.52
        bsi = 0.22 - 0.5 * ndvi + bsi_extra
        p10_extra = 0.0
        for effect in self.effects:
            dn, dm, db, dp = effect(day)
            ndvi += dn
            ndmi += dm
            bsi += db
            p10_extra += dp
        return ndvi, ndmi, bsi, p10_extra


def ramp(days, length):
    return min(max(days / length, 0.0), 1.0)


def generate(i, kind, rng):
    """One scenario of `kind`: its field, weeks and labels."""
    crop = None
    rotation = None
    history = rng.random() < 0.8
    noise = rng.uniform(0.012, 0.025)
    haze = 0.0
    cloud_boost = 1.0
    if kind in ("healthy_pasture", "noisy_pasture", "pasture_degradation"):
        rotation = ["pasture"]
        history = history or kind == "pasture_degradation"
    elif kind == "double_crop":
        rotation = ["soy", "safrinha"]
    elif kind == "irrigated_dry":
        rotation = ["irrigated"]
    else:
        crop = rng.choice(["soy", "soy", "maize", "generic"])
        rotation = [crop]
    if kind.startswith("noisy"):
        noise = rng.uniform(0.035, 0.045)
        haze = 0.06
        cloud_boost = 1.3
    field = Field(rng, rotation, noise, haze)
    labels = []
    events = {}

    eval_start = week_date(EVAL_FROM)
    seasons = [s for s in field.evaluated_seasons() if s.sow >= eval_start - dt.timedelta(days=30)]
    main = seasons[0] if seasons else None
    if main is not None and kind in ("drought", "pest", "hail", "low_vigor", "cloud_gap"):
        anchor = main.anchor()
        maturity = MATURITY_WEEKS[main.crop]
        if kind == "drought":
            start = anchor + dt.timedelta(days=7 * rng.uniform(1.0, maturity - 5))
            length = rng.randint(4, 6) * 7
            end = start + dt.timedelta(days=length)
            drop = rng.uniform(0.10, 0.25)

            def drought(day, start=start, end=end, drop=drop):
                if day >= main.harvest:
                    return (0, 0, 0, 0)

                def loss(lag):
                    d = (day - start).days - lag
                    grow = ramp(d, 21) * drop
                    after = (day - end).days - lag
                    return grow * (1 - 0.5 * ramp(after, 21))

                return (-loss(7), -1.6 * loss(3), 0.5 * loss(7), -0.5 * loss(7))

            field.effects.append(drought)
            events["drought"] = (start, end)
        elif kind == "pest":
            start = anchor + dt.timedelta(days=7 * rng.uniform(2.0, maturity - 4))
            drop = rng.uniform(0.10, 0.18)

            def pest(day, start=start, drop=drop):
                if day >= main.harvest:
                    return (0, 0, 0, 0)
                r = ramp((day - start).days, 10) * drop
                return (-r, -0.6 * r, 0.3 * r, -1.5 * r)

            field.effects.append(pest)
            events["pest"] = (start, start)
        elif kind == "hail":
            start = anchor + dt.timedelta(days=7 * rng.uniform(2.0, maturity - 3))
            drop = rng.uniform(0.20, 0.35)

            def hail(day, start=start, drop=drop):
                if day < start or day >= main.harvest:
                    return (0, 0, 0, 0)
                r = drop * (1 - 0.4 * ramp((day - start).days, 21))
                return (-r, -0.9 * r, 0.5 * r, -0.3 * r)

            field.effects.append(hail)
            events["hail"] = (start, start)
        elif kind == "low_vigor":
            main.peak -= rng.uniform(0.20, 0.35)
            events["low_vigor"] = (
                main.sow + dt.timedelta(days=main.p["up"] + 7),
                main.sow + dt.timedelta(days=main.p["sen"]),
            )
        elif kind == "cloud_gap":
            start = anchor + dt.timedelta(days=7 * rng.uniform(2.0, maturity - 2))
            events["gap"] = (start, start + dt.timedelta(days=7 * rng.randint(4, 7)))
    if kind == "pasture_degradation":
        field.degradation = rng.uniform(0.045, 0.08)

    # The weeks.
    # An MGRS tile of the Cerrado (zone 22, band K), e.g. 22KFC. (The third letter drawn is
    # unused; drawing it keeps the committed set's random stream.)
    tile = ("22K" + rng.choice("DEFG") + rng.choice("ABCDEFGH") + rng.choice("ABCDEFGH"))[:5]
    pass_offset = rng.randint(0, 4)
    first = 0 if history else NO_HISTORY_FROM
    has_weather = kind == "drought" or kind == "irrigated_dry" or rng.random() < 0.85
    status, day_of_week, cloud, vpr = [], [], [], []
    ndvi, p10, p90, ndmi, bsi, precip, et0 = [], [], [], [], [], [], []
    cloudy_prev = False
    gap = events.get("gap")
    drought_span = events.get("drought")
    for w in range(first, N_WEEKS):
        monday = week_date(w)
        season = wetness(monday + dt.timedelta(days=3))
        # The newest Sentinel-2 pass in the week (every 5 days from the tile's first pass).
        k = ((monday - FIRST).days + 6 - pass_offset) // 5
        image = FIRST + dt.timedelta(days=pass_offset + 5 * k)
        p_cloud = {"wet": (0.3, 0.55), "transition": (0.15, 0.4), "dry": (0.04, 0.2)}[season]
        p = min(0.95, p_cloud[1 if cloudy_prev else 0] * cloud_boost)
        if rng.random() < 0.015:
            st = "N"
        elif rng.random() < p:
            st = "C"
        else:
            st = "O"
        if gap and gap[0] <= monday < gap[1]:
            st = "C"
        cloudy_prev = st != "O"
        status.append(st)
        # Weather.
        if has_weather:
            mean = {"wet": 50.0, "transition": 20.0, "dry": 2.5}[season]
            rain = rng.gammavariate(2.0, mean / 2.0)
            if season == "dry" and rng.random() < 0.7:
                rain = 0.0
            evap = rng.gauss({"wet": 26.0, "transition": 32.0, "dry": 36.0}[season], 3.5)
            if drought_span and drought_span[0] <= monday + dt.timedelta(days=3) < drought_span[1]:
                rain = rng.uniform(0.0, 6.0)
                evap = rng.uniform(30.0, 38.0)
            precip.append(round(rain * 10))
            et0.append(round(evap * 10))
        if st == "N":
            day_of_week.append(-1)
            cloud.append(None)
            vpr.append(None)
            for arr in (ndvi, p10, p90, ndmi, bsi):
                arr.append(None)
            continue
        day_of_week.append((image - monday).days)
        if st == "C":
            cf = rng.uniform(0.6, 1.0)
            cloud.append(round(cf * 1000))
            vpr.append(round((1 - cf) * 1000))
            for arr in (ndvi, p10, p90, ndmi, bsi):
                arr.append(None)
            continue
        true_ndvi, true_ndmi, true_bsi, p10_extra = field.truth(image)
        cf = rng.uniform(0.0, 0.08) if rng.random() < 0.9 else rng.uniform(0.08, 0.3)
        e = rng.gauss(0, field.noise)
        if field.haze and rng.random() < field.haze:
            e -= rng.uniform(0.05, 0.15)
            cf = rng.uniform(0.12, 0.35)
        v = min(max(true_ndvi + e, 0.05), 0.95)
        spread = rng.uniform(0.05, 0.09)
        cloud.append(round(cf * 1000))
        vpr.append(round((1 - cf) * 1000))
        ndvi.append(round(v * 1000))
        p10.append(round((v - spread + p10_extra) * 1000))
        p90.append(round((v + 0.7 * spread) * 1000))
        ndmi.append(round((true_ndmi + 1.05 * e + rng.gauss(0, 0.01)) * 1000))
        bsi.append(round((true_bsi - 0.5 * e + rng.gauss(0, 0.008)) * 1000))

    # Labels, as week indices, from what the weeks show.
    def ok_at_or_after(idx, min_day=None):
        for j in range(max(idx, first), N_WEEKS):
            if status[j - first] == "O":
                if min_day is None or week_date(j) + dt.timedelta(days=day_of_week[j - first]) >= min_day:
                    return j
        return None

    def index_of(day):
        return (day - FIRST).days // 7

    def label(kind_, lo, hi, required=True):
        lo = max(lo, EVAL_FROM)
        hi = min(hi, N_WEEKS - 1)
        if lo > hi:
            return
        labels.append({"type": kind_, "from": iso(lo), "to": iso(hi), "required": required})

    if not field.pasture:
        for s in field.seasons:
            h = index_of(s.harvest)
            # A harvest just before the season may still be reported in its first weeks.
            if EVAL_FROM - 4 <= h < N_WEEKS:
                seen = ok_at_or_after(h, s.harvest)
                if seen is None:
                    continue
                label("HARVEST_DETECTED", h, seen + 2, required=s.peak >= 0.6 and h >= EVAL_FROM)
    run = 0
    for j in range(first, N_WEEKS):
        if status[j - first] != "O":
            run += 1
        else:
            run = 0
        if run == 3:
            end = ok_at_or_after(j) or N_WEEKS
            label("NO_RECENT_DATA", j, end - 1)
    if "drought" in events:
        start, end = events["drought"]
        a, b = index_of(start), index_of(end)
        seen = ok_at_or_after(a + 2) or N_WEEKS
        label("WATER_STRESS", a + 1, max(b + 3, seen + 1))
        for t in ("LOW_VIGOR", "PERSISTENT_ANOMALY", "RAPID_DECLINE"):
            label(t, a, b + 8, required=False)
    if "pest" in events:
        a = index_of(events["pest"][0])
        seen = ok_at_or_after(a + 3) or N_WEEKS
        label("PERSISTENT_ANOMALY", a + 2, max(a + 8, seen + 3))
        for t in ("LOW_VIGOR", "RAPID_DECLINE"):
            label(t, a, a + 10, required=False)
    if "hail" in events:
        a = index_of(events["hail"][0])
        seen = ok_at_or_after(a, events["hail"][0]) or N_WEEKS
        label("RAPID_DECLINE", a, seen + 1)
        for t in ("LOW_VIGOR", "PERSISTENT_ANOMALY"):
            label(t, a, a + 8, required=False)
    if "low_vigor" in events:
        a, b = (index_of(d) for d in events["low_vigor"])
        label("LOW_VIGOR", a, b)
        for t in ("PERSISTENT_ANOMALY", "RAPID_DECLINE"):
            label(t, a - 2, b + 2, required=False)
    if kind == "pasture_degradation":
        a = index_of(dt.date(2025, 11, 24))
        label("PASTURE_DEGRADATION", a, N_WEEKS - 1)
        for t in ("LOW_VIGOR", "PERSISTENT_ANOMALY"):
            label(t, EVAL_FROM, N_WEEKS - 1, required=False)

    healthy = kind.startswith("healthy") or kind.startswith("noisy") or kind in (
        "double_crop",
        "irrigated_dry",
        "cloud_gap",
    )
    declared = None
    if not field.pasture and rotation != ["soy", "safrinha"]:
        declared = CROPS[rotation[0]]["declared"] if rng.random() < 0.8 else None
    return {
        "id": f"{kind}-{i:03d}",
        "kind": kind,
        "use": "PASTURE" if field.pasture else "CROP",
        "crop": declared,
        "healthy": healthy,
        "tile": tile,
        "first": first,
        "status": "".join(status),
        "day": day_of_week,
        "cloud": cloud,
        "vpr": vpr,
        "ndvi": ndvi,
        "ndvi_p10": p10,
        "ndvi_p90": p90,
        "ndmi": ndmi,
        "bsi": bsi,
        "precip": precip if has_weather else None,
        "et0": et0 if has_weather else None,
        "labels": labels,
    }


PLAN = [
    ("healthy_crop", 65),
    ("double_crop", 10),
    ("healthy_pasture", 25),
    ("noisy_crop", 20),
    ("noisy_pasture", 10),
    ("irrigated_dry", 10),
    ("cloud_gap", 15),
    ("drought", 45),
    ("pest", 25),
    ("hail", 10),
    ("low_vigor", 20),
    ("pasture_degradation", 25),
]


def main():
    parser = argparse.ArgumentParser(description="Labelled synthetic field series for the signal rules.")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    scenarios = []
    i = 0
    for kind, count in PLAN:
        for _ in range(count):
            rng = random.Random(f"{args.seed}-{i}")
            scenarios.append(generate(i, kind, rng))
            i += 1
    doc = {
        "generator": "scripts/signal-scenarios.py",
        "seed": args.seed,
        "first_week": iso(0),
        "weeks": N_WEEKS,
        "evaluate_from": iso(EVAL_FROM),
        "units": "indices, cloud and valid pixel ratio in thousandths; precip and ET0 in tenths of mm",
        "scenarios": scenarios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    healthy = sum(s["healthy"] for s in scenarios)
    print(f"{args.out}: {len(scenarios)} scenarios ({healthy} healthy), {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
