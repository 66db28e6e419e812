//! A field's small map for e-mails: its outline (GeoJSON Polygon or MultiPolygon, WGS84) filled
//! and stroked on a transparent square PNG, north up, longitudes scaled by cos(latitude).

/// Fill and stroke colours (RGBA).
const FILL: [u8; 4] = [76, 175, 80, 90];
const STROKE: [u8; 4] = [27, 94, 32, 255];

/// The rings (lon, lat) of a GeoJSON Polygon or MultiPolygon.
fn rings(geometry: &serde_json::Value) -> Vec<Vec<(f64, f64)>> {
    let ring = |r: &serde_json::Value| -> Vec<(f64, f64)> {
        r.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
            .collect()
    };
    let polygon = |p: &serde_json::Value| -> Vec<Vec<(f64, f64)>> {
        p.as_array().into_iter().flatten().map(ring).collect()
    };
    match geometry["type"].as_str() {
        Some("Polygon") => polygon(&geometry["coordinates"]),
        Some("MultiPolygon") => geometry["coordinates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(polygon)
            .collect(),
        _ => Vec::new(),
    }
}

/// The outline as a `size`×`size` PNG, or `None` for a geometry without area.
pub fn outline_png(geometry: &serde_json::Value, size: u32) -> Option<Vec<u8>> {
    let rings: Vec<_> = rings(geometry)
        .into_iter()
        .filter(|r| r.len() >= 3)
        .collect();
    let points = rings.iter().flatten();
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in points {
        min_x = min_x.min(*x);
        max_x = max_x.max(*x);
        min_y = min_y.min(*y);
        max_y = max_y.max(*y);
    }
    let scale_x = ((min_y + max_y) / 2.0).to_radians().cos().max(0.01);
    let (width, height) = ((max_x - min_x) * scale_x, max_y - min_y);
    if rings.is_empty() || !(width > 0.0 && height > 0.0) {
        return None;
    }
    let margin = 8.0;
    let side = f64::from(size) - 2.0 * margin;
    let k = side / width.max(height);
    let (off_x, off_y) = (
        margin + (side - width * k) / 2.0,
        margin + (side - height * k) / 2.0,
    );
    let to_px = |(x, y): (f64, f64)| (off_x + (x - min_x) * scale_x * k, off_y + (max_y - y) * k);
    let px: Vec<Vec<(f64, f64)>> = rings
        .iter()
        .map(|r| r.iter().copied().map(to_px).collect())
        .collect();
    let n = size as usize;
    let mut rgba = vec![0u8; n * n * 4];
    // Even-odd scanline fill at pixel centres (holes stay empty).
    for row in 0..n {
        let y = row as f64 + 0.5;
        let mut xs = Vec::new();
        for ring in &px {
            for (a, b) in ring.iter().zip(ring.iter().cycle().skip(1)) {
                if (a.1 <= y) != (b.1 <= y) {
                    xs.push(a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1));
                }
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks(2) {
            if let [x0, x1] = pair {
                let start = (x0 - 0.5).ceil().max(0.0) as isize;
                let end = ((x1 - 0.5).floor() as isize).min(n as isize - 1);
                for col in start..=end {
                    rgba[(row * n + col as usize) * 4..][..4].copy_from_slice(&FILL);
                }
            }
        }
    }
    // Stroke: 2-pixel lines, one dot per half pixel along each edge.
    for ring in &px {
        for (a, b) in ring.iter().zip(ring.iter().cycle().skip(1)) {
            let steps = ((b.0 - a.0).hypot(b.1 - a.1) * 2.0).ceil().max(1.0) as usize;
            for i in 0..=steps {
                let t = i as f64 / steps as f64;
                let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
                for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
                    let (cx, cy) = ((x - 0.5 + dx).floor(), (y - 0.5 + dy).floor());
                    if cx >= 0.0 && cy >= 0.0 && (cx as usize) < n && (cy as usize) < n {
                        rgba[(cy as usize * n + cx as usize) * 4..][..4].copy_from_slice(&STROKE);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&rgba).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_field_fills_the_middle_and_not_the_corner() {
        let geometry = serde_json::json!({"type": "Polygon", "coordinates": [[
            [-47.0, -15.0], [-46.99, -15.0], [-46.99, -14.99], [-47.0, -14.99], [-47.0, -15.0]]]});
        let png_bytes = outline_png(&geometry, 64).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        let at = |x: usize, y: usize| &buf[(y * 64 + x) * 4..][..4];
        assert_eq!(at(32, 32), FILL);
        assert_eq!(at(0, 0), [0, 0, 0, 0]);
        assert!(
            outline_png(
                &serde_json::json!({"type": "Point", "coordinates": [0, 0]}),
                64
            )
            .is_none()
        );
    }
}
