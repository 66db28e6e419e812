//! Shapefile geometry (`.shp`): polygon records read as rings, Z and M dropped; a writer of
//! polygon files with their `.shx` index.
//!
//! Rings are grouped into polygons by nesting, not by their winding (files from other software
//! often wind them the wrong way): a ring inside an even number of others is an outer ring, one
//! inside an odd number is a hole of the smallest ring around it (as GDAL does).

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::error::{Error, Result};

const FORMAT: &str = "Shapefile";

/// A record's geometry as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A null shape: no geometry.
    Null,
    /// A polygon (plain, Z or M): its rings in file order.
    Rings(Vec<Vec<Coord<f64>>>),
    /// A point, line or other shape that is not an area.
    NotArea(&'static str),
}

fn shape_name(kind: i32) -> &'static str {
    match kind {
        1 | 11 | 21 => "point",
        3 | 13 | 23 => "line",
        8 | 18 | 28 => "multipoint",
        31 => "multipatch",
        _ => "unknown shape",
    }
}

fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_f64(b: &[u8], at: usize) -> f64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(a)
}

/// Reads every record; `max_vertices` bounds the vertices over the whole file.
pub fn read(bytes: &[u8], max_vertices: usize) -> Result<Vec<Record>> {
    if bytes.len() < 100 || bytes[..4] != [0, 0, 0x27, 0x0A] {
        return Err(Error::corrupt(FORMAT, "its header is not a Shapefile's"));
    }
    let mut records = Vec::new();
    let mut vertices = 0usize;
    let mut at = 100;
    while at + 8 <= bytes.len() {
        let words =
            i32::from_be_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let length = usize::try_from(words)
            .ok()
            .and_then(|w| w.checked_mul(2))
            .ok_or_else(|| Error::corrupt(FORMAT, "a record has a negative length"))?;
        let content = bytes
            .get(at + 8..at + 8 + length)
            .ok_or_else(|| Error::corrupt(FORMAT, "it ends inside a record"))?;
        at += 8 + length;
        if content.len() < 4 {
            return Err(Error::corrupt(FORMAT, "a record is empty"));
        }
        records.push(match le_i32(content, 0) {
            0 => Record::Null,
            5 | 15 | 25 => {
                let rings = polygon_rings(content)?;
                vertices += rings.iter().map(Vec::len).sum::<usize>();
                if vertices > max_vertices {
                    return Err(Error::TooManyVertices {
                        limit: max_vertices,
                    });
                }
                Record::Rings(rings)
            }
            kind => Record::NotArea(shape_name(kind)),
        });
    }
    Ok(records)
}

fn polygon_rings(content: &[u8]) -> Result<Vec<Vec<Coord<f64>>>> {
    let broken = || Error::corrupt(FORMAT, "a polygon record is damaged");
    if content.len() < 44 {
        return Err(broken());
    }
    let parts = usize::try_from(le_i32(content, 36)).map_err(|_| broken())?;
    let points = usize::try_from(le_i32(content, 40)).map_err(|_| broken())?;
    let points_at = parts
        .checked_mul(4)
        .and_then(|p| p.checked_add(44))
        .ok_or_else(broken)?;
    let end = points
        .checked_mul(16)
        .and_then(|p| p.checked_add(points_at))
        .ok_or_else(broken)?;
    if end > content.len() {
        return Err(broken());
    }
    let starts: Vec<usize> = (0..parts)
        .map(|i| usize::try_from(le_i32(content, 44 + 4 * i)).map_err(|_| broken()))
        .collect::<Result<_>>()?;
    let mut rings = Vec::with_capacity(parts);
    for (i, &start) in starts.iter().enumerate() {
        let stop = starts.get(i + 1).copied().unwrap_or(points);
        if start > stop || stop > points {
            return Err(broken());
        }
        rings.push(
            (start..stop)
                .map(|p| Coord {
                    x: le_f64(content, points_at + 16 * p),
                    y: le_f64(content, points_at + 16 * p + 8),
                })
                .collect(),
        );
    }
    Ok(rings)
}

/// Twice the signed area (positive counter-clockwise).
fn signed_area2(ring: &[Coord<f64>]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

/// Even-odd point in ring.
fn inside(point: Coord<f64>, ring: &[Coord<f64>]) -> bool {
    let mut result = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > point.y) != (b.y > point.y)
            && point.x < (b.x - a.x) * (point.y - a.y) / (b.y - a.y) + a.x
        {
            result = !result;
        }
    }
    result
}

/// Groups rings into polygons by nesting (see the module docs). Rings keep their points.
pub fn organise(rings: Vec<Vec<Coord<f64>>>) -> Vec<Vec<Vec<Coord<f64>>>> {
    let mut order: Vec<(f64, Vec<Coord<f64>>)> = rings
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| (signed_area2(&r).abs(), r))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Per ring: None for an outer ring, Some(j) for a hole of ring j (larger, so earlier).
    let holes_of: Vec<Option<usize>> = (0..order.len())
        .map(|i| {
            let probe = order[i].1[0];
            let containers: Vec<usize> = (0..i).filter(|&j| inside(probe, &order[j].1)).collect();
            (containers.len() % 2 == 1).then(|| containers[containers.len() - 1])
        })
        .collect();
    let mut polygon_of = vec![0; order.len()];
    let mut polygons: Vec<Vec<Vec<Coord<f64>>>> = Vec::new();
    for (i, (_, ring)) in order.into_iter().enumerate() {
        match holes_of[i] {
            None => {
                polygon_of[i] = polygons.len();
                polygons.push(vec![ring]);
            }
            Some(j) => polygons[polygon_of[j]].push(ring),
        }
    }
    polygons
}

/// Writes polygons as a Shapefile (`.shp`, `.shx`): outer rings clockwise, holes
/// counter-clockwise, as the format wants.
pub fn write(shapes: &[MultiPolygon<f64>]) -> (Vec<u8>, Vec<u8>) {
    let mut contents: Vec<Vec<u8>> = Vec::with_capacity(shapes.len());
    let mut total_box = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for shape in shapes {
        let rings: Vec<Vec<Coord<f64>>> = shape
            .iter()
            .flat_map(|p: &Polygon<f64>| {
                let outer = oriented(p.exterior(), false);
                std::iter::once(outer).chain(p.interiors().iter().map(|h| oriented(h, true)))
            })
            .collect();
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for c in rings.iter().flatten() {
            bbox = [
                bbox[0].min(c.x),
                bbox[1].min(c.y),
                bbox[2].max(c.x),
                bbox[3].max(c.y),
            ];
        }
        total_box = [
            total_box[0].min(bbox[0]),
            total_box[1].min(bbox[1]),
            total_box[2].max(bbox[2]),
            total_box[3].max(bbox[3]),
        ];
        let points: usize = rings.iter().map(Vec::len).sum();
        let mut c = Vec::with_capacity(44 + 4 * rings.len() + 16 * points);
        c.extend_from_slice(&5i32.to_le_bytes());
        for v in bbox {
            c.extend_from_slice(&v.to_le_bytes());
        }
        c.extend_from_slice(&(rings.len() as i32).to_le_bytes());
        c.extend_from_slice(&(points as i32).to_le_bytes());
        let mut start = 0i32;
        for ring in &rings {
            c.extend_from_slice(&start.to_le_bytes());
            start += ring.len() as i32;
        }
        for p in rings.iter().flatten() {
            c.extend_from_slice(&p.x.to_le_bytes());
            c.extend_from_slice(&p.y.to_le_bytes());
        }
        contents.push(c);
    }
    if shapes.is_empty() {
        total_box = [0.0; 4];
    }
    let header = |length_bytes: usize| {
        let mut h = Vec::with_capacity(100);
        h.extend_from_slice(&9994i32.to_be_bytes());
        h.extend_from_slice(&[0; 20]);
        h.extend_from_slice(&((length_bytes / 2) as i32).to_be_bytes());
        h.extend_from_slice(&1000i32.to_le_bytes());
        h.extend_from_slice(&5i32.to_le_bytes());
        for v in total_box {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&[0; 32]); // z and m ranges
        h
    };
    let shp_len = 100 + contents.iter().map(|c| 8 + c.len()).sum::<usize>();
    let mut shp = header(shp_len);
    let mut shx = header(100 + 8 * contents.len());
    for (i, c) in contents.iter().enumerate() {
        shx.extend_from_slice(&((shp.len() / 2) as i32).to_be_bytes());
        shx.extend_from_slice(&((c.len() / 2) as i32).to_be_bytes());
        shp.extend_from_slice(&(i as i32 + 1).to_be_bytes());
        shp.extend_from_slice(&((c.len() / 2) as i32).to_be_bytes());
        shp.extend_from_slice(c);
    }
    (shp, shx)
}

fn oriented(ring: &LineString<f64>, counter_clockwise: bool) -> Vec<Coord<f64>> {
    let mut points = ring.0.clone();
    if (signed_area2(&points) > 0.0) != counter_clockwise {
        points.reverse();
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x: f64, y: f64, size: f64) -> Vec<Coord<f64>> {
        vec![
            Coord { x, y },
            Coord { x: x + size, y },
            Coord {
                x: x + size,
                y: y + size,
            },
            Coord { x, y: y + size },
            Coord { x, y },
        ]
    }

    #[test]
    fn rings_nest_into_polygons_whatever_their_winding() {
        let polygons = organise(vec![
            square(1.0, 1.0, 2.0),
            square(0.0, 0.0, 10.0),
            square(20.0, 0.0, 1.0),
            square(1.5, 1.5, 0.5),
        ]);
        assert_eq!(polygons.len(), 3);
        assert_eq!(polygons[0].len(), 2, "the big square has the hole");
        assert_eq!(polygons[0][1], square(1.0, 1.0, 2.0));
        assert_eq!(polygons[1], vec![square(20.0, 0.0, 1.0)]);
        assert_eq!(
            polygons[2],
            vec![square(1.5, 1.5, 0.5)],
            "an island in the hole"
        );
    }

    #[test]
    fn written_file_reads_back_with_holes() {
        let field = MultiPolygon::new(vec![
            polygon!(
                exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)],
                interiors: [[(x: 1.0, y: 1.0), (x: 1.0, y: 2.0), (x: 2.0, y: 2.0), (x: 2.0, y: 1.0)]],
            ),
            polygon![(x: 10.0, y: 0.0), (x: 11.0, y: 0.0), (x: 11.0, y: 1.0)],
        ]);
        let (shp, shx) = write(std::slice::from_ref(&field));
        assert_eq!(shx.len(), 108);
        let records = read(&shp, 100).unwrap();
        let Record::Rings(rings) = &records[0] else {
            panic!("{records:?}")
        };
        assert_eq!(rings.len(), 3);
        assert!(signed_area2(&rings[0]) < 0.0, "outer rings are clockwise");
        assert!(signed_area2(&rings[1]) > 0.0, "holes are counter-clockwise");
        let polygons = organise(rings.clone());
        assert_eq!(polygons.len(), 2);
        assert_eq!(polygons[0].len(), 2);
        assert_eq!(read(&shp, 5).unwrap_err().reason(), "too_many_vertices");
    }

    #[test]
    fn damaged_files_are_corrupt() {
        let (shp, _) = write(&[MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)
        ]])]);
        assert_eq!(read(&shp[..50], 100).unwrap_err().reason(), "corrupt");
        assert_eq!(
            read(&shp[..shp.len() - 3], 100).unwrap_err().reason(),
            "corrupt"
        );
        let mut lying = shp.clone();
        lying[100 + 8 + 40..100 + 8 + 44].copy_from_slice(&i32::MAX.to_le_bytes());
        assert_eq!(read(&lying, 100).unwrap_err().reason(), "corrupt");
    }
}
