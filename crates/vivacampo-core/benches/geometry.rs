//! `cargo bench -p vivacampo-core` — how long a large field outline takes to validate (the
//! speed figure that used to be a time limit inside a unit test, where a busy machine made it
//! flaky and a slow build made it meaningless).

use std::hint::black_box;
use std::time::{Duration, Instant};

use vivacampo_core::geometry::FieldGeometry;

/// A closed star-shaped ring of `n` vertices around (lon, lat), radii about 1 km.
fn star_ring(lon: f64, lat: f64, n: usize) -> Vec<[f64; 2]> {
    let m_per_deg_lat = 110_574.0;
    let m_per_deg_lon = 111_320.0 * lat.to_radians().cos();
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let x = i as f64;
            let radius = 1_000.0 + 150.0 * (x * 0.37).sin() + 40.0 * (x * 5.1).cos();
            let angle = std::f64::consts::TAU * x / n as f64;
            [
                lon + radius * angle.cos() / m_per_deg_lon,
                lat + radius * angle.sin() / m_per_deg_lat,
            ]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

fn main() {
    for vertices in [1_000, 10_000] {
        let geojson = serde_json::json!({"type": "Polygon", "coordinates": [star_ring(-55.7, -12.5, vertices)]});
        let best = (0..5)
            .map(|_| {
                let t = Instant::now();
                black_box(FieldGeometry::from_geojson(black_box(&geojson)).unwrap());
                t.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO);
        println!(
            "validate a {vertices}-vertex field: {:.2} ms",
            best.as_secs_f64() * 1e3
        );
    }
}
