#!/usr/bin/env python3
"""Reference areas for vivacampo-core's field geometry tests.

Builds a handful of fields (Goiás and Mato Grosso crops, a field with a hole, a MultiPolygon,
a 9 000 ha field, fields on the equator, near the antimeridian and at high latitude, a
500-vertex irregular outline, one just above the 0.1 ha minimum), computes their geodesic area
with pyproj (GeographicLib, WGS84 ellipsoid) and writes them to
crates/vivacampo-core/tests/fixtures/geometry/reference-areas.json.

The Rust tests read that JSON and never need Python. Re-run after changing a field:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pyproj shapely
    /tmp/venv/bin/python scripts/geometry-reference.py
"""

import json
import math
import random
import re
from pathlib import Path

import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

GEOD = pyproj.Geod(ellps="WGS84")
OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "crates/vivacampo-core/tests/fixtures/geometry/reference-areas.json"
)
# Coordinates are rounded as a GPS or web map would deliver them; areas are computed on the
# rounded values, so Rust and Python see identical input.
DECIMALS = 7


def rounded(points):
    return [(round(lon, DECIMALS), round(lat, DECIMALS)) for lon, lat in points]


def walk(lon, lat, azimuth_deg, distance_m):
    """The point reached from (lon, lat) along a geodesic."""
    end_lon, end_lat, _ = GEOD.fwd(lon, lat, azimuth_deg, distance_m)
    return end_lon, end_lat


def rectangle(lon, lat, width_m, height_m, rotation_deg=0.0):
    """Corners of a width × height rectangle starting at (lon, lat), rotated clockwise from
    east, counter-clockwise order."""
    east = 90.0 + rotation_deg
    north = rotation_deg
    corner_1 = walk(lon, lat, east, width_m)
    corner_2 = walk(*corner_1, north, height_m)
    corner_3 = walk(lon, lat, north, height_m)
    return rounded([(lon, lat), corner_1, corner_2, corner_3, (lon, lat)])


def circle(lon, lat, radius_m, vertices):
    """A centre pivot: vertices on a geodesic circle, counter-clockwise."""
    ring = [walk(lon, lat, 90.0 - 360.0 * i / vertices, radius_m) for i in range(vertices)]
    ring = rounded(ring)
    return ring + [ring[0]]


def irregular(lon, lat, mean_radius_m, jitter_m, vertices, seed):
    """A star-shaped outline with random radii: simple by construction (angles increase)."""
    rng = random.Random(seed)
    ring = []
    for i in range(vertices):
        angle = 2.0 * math.pi * i / vertices
        radius = mean_radius_m + rng.uniform(-jitter_m, jitter_m)
        ring.append(walk(lon, lat, 90.0 - math.degrees(angle), radius))
    ring = rounded(ring)
    return ring + [ring[0]]


def reverse(ring):
    return list(reversed(ring))


def fields():
    """(name, description, shapely geometry) — some rings deliberately clockwise, as clients
    send them, to exercise normalisation."""
    hole_field_outer = rounded(
        [
            (-50.9620, -17.8120),
            (-50.9380, -17.8150),
            (-50.9290, -17.7980),
            (-50.9420, -17.7860),
            (-50.9610, -17.7920),
            (-50.9620, -17.8120),
        ]
    )
    hole_field_reserve = rectangle(-50.9500, -17.8040, 450.0, 420.0)
    plot_a = rectangle(-55.9300, -13.0500, 1200.0, 900.0, rotation_deg=12.0)
    plot_b_outer = rectangle(-55.9000, -13.0550, 1500.0, 1100.0)
    plot_b_hole = rectangle(-55.8950, -13.0500, 300.0, 250.0)
    return [
        (
            "goias-center-pivot",
            "Centre pivot, 500 m radius, 96 vertices, Cristalina GO",
            Polygon(circle(-47.6150, -16.7680, 500.0, 96)),
        ),
        (
            "mato-grosso-rotated-rectangle",
            "2.1 km × 1.4 km soybean field rotated 23°, Sorriso MT, clockwise input",
            Polygon(reverse(rectangle(-55.7100, -12.5500, 2100.0, 1400.0, rotation_deg=23.0))),
        ),
        (
            "goias-field-with-hole",
            "Irregular field with a wetland hole, Rio Verde GO",
            Polygon(hole_field_outer, [reverse(hole_field_reserve)]),
        ),
        (
            "mato-grosso-multipolygon",
            "Two plots, the second with a hole, Lucas do Rio Verde MT",
            MultiPolygon(
                [Polygon(plot_a), Polygon(plot_b_outer, [reverse(plot_b_hole)])]
            ),
        ),
        (
            "mato-grosso-9000-ha",
            "9.5 km × 9.48 km field, Campo Novo do Parecis MT",
            Polygon(rectangle(-58.0000, -13.5000, 9500.0, 9480.0)),
        ),
        (
            "amapa-equator",
            "1.2 km × 1.3 km field crossing the equator, Macapá AP",
            Polygon(rectangle(-51.0700, -0.0060, 1200.0, 1300.0)),
        ),
        (
            "fiji-near-antimeridian",
            "Field at 179.97° E, Taveuni, Fiji",
            Polygon(rectangle(179.9650, -16.8200, 900.0, 700.0, rotation_deg=-8.0)),
        ),
        (
            "saskatchewan-high-latitude",
            "800 m × 800 m wheat field at 52° N, clockwise input",
            Polygon(reverse(rectangle(-106.6000, 52.1000, 800.0, 800.0))),
        ),
        (
            "irregular-500-vertices",
            "500-vertex irregular outline, 800 ± 150 m radius, Primavera do Leste MT",
            Polygon(irregular(-54.3000, -15.5500, 800.0, 150.0, 500, seed=7)),
        ),
        (
            "parana-smallest",
            "32 m × 32 m plot just above the 0.1 ha minimum, Londrina PR",
            Polygon(rectangle(-51.1600, -23.3100, 32.0, 32.0)),
        ),
    ]


def main():
    cases = []
    for name, description, geometry in fields():
        assert geometry.is_valid, (name, shapely.is_valid_reason(geometry))
        area_m2, perimeter_m = GEOD.geometry_area_perimeter(geometry)
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        polygons = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
        vertices = sum(
            len(ring.coords) - 1
            for polygon in polygons
            for ring in [polygon.exterior, *polygon.interiors]
        )
        cases.append(
            {
                "name": name,
                "description": description,
                "geometry": mapping(geometry),
                # pyproj's sign follows ring orientation; the area itself is the magnitude.
                "area_m2": abs(area_m2),
                "perimeter_m": perimeter_m,
                "bbox": [min_lon, min_lat, max_lon, max_lat],
                "vertex_count": vertices,
            }
        )
    document = {
        "generated_by": "scripts/geometry-reference.py",
        "method": f"pyproj {pyproj.__version__} Geod(ellps='WGS84').geometry_area_perimeter "
        f"(GeographicLib {pyproj.geod.geodesic_version_str}), shapely {shapely.__version__}",
        "cases": cases,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=1)
    # One position per line keeps the file short and readable.
    text = re.sub(r"\[\s*(-?[0-9.e+-]+),\s*(-?[0-9.e+-]+)\s*\]", r"[\1, \2]", text)
    OUTPUT.write_text(text + "\n")
    for case in cases:
        print(f"{case['name']:32} {case['area_m2'] / 10_000:12.4f} ha  {case['vertex_count']:4} vertices")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
