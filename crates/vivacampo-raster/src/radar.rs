//! Sentinel-1 backscatter of a field-week: the composite of the week's scenes, the speckle
//! filter, and the statistics of the radar indices (docs/radar.md).
//!
//! - Valid pixel: VV and VH both finite and > 0 (linear power; RTC nodata and the zero fill
//!   outside the swath are not).
//! - Composite: per pixel the newest scene with a valid pixel (scenes given newest first).
//! - Speckle filter: a 3 × 3 mean of the valid pixels around each valid pixel, in linear power
//!   (a boxcar filter: ENL ≈ 9× the input's, light enough to keep field edges); invalid pixels
//!   stay invalid and do not contribute.
//! - Indices, per pixel: `rvi` = 4·VH/(VV+VH), `vh_vv` = VH/VV; `vv_db` and `vh_db` are
//!   backscatter in dB, whose statistics are computed in the linear domain and converted:
//!   mean, min, max and the percentiles are 10·log10 of the linear statistic (the mean of dB
//!   values is not the dB of the mean power); `std` is the standard deviation of the per-pixel
//!   dB values (a spread in dB).

use crate::colormap;
use crate::index::{IndexInfo, LegendStop};
use crate::stats::{Stats, zonal};

/// The radar indices, in the order statistics are returned.
pub const INDICES: [&str; 4] = ["rvi", "vh_vv", "vv_db", "vh_db"];

/// True for a radar index name.
pub fn is_radar_index(name: &str) -> bool {
    INDICES.contains(&name)
}

/// The catalogue entry of a radar index (as `index::info` gives the optical ones); its bands
/// are the radar COG's `VV` and `VH`.
pub fn info(name: &str) -> Option<IndexInfo> {
    let (name, title, description, formula, range, cmap): (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        [f64; 2],
        &'static str,
    ) = match name {
        "rvi" => (
            "rvi",
            "RVI (radar)",
            "Radar Vegetation Index from Sentinel-1 VV/VH: grows with canopy volume (bare soil ≈ 0.2–0.4, developed crops 0.6–1); sees through clouds.",
            "4 * VH / (VV + VH)",
            [0.0, 1.2],
            "ylgn",
        ),
        "vh_vv" => (
            "vh_vv",
            "VH/VV (radar)",
            "Cross-polarisation ratio of Sentinel-1 backscatter: rises with vegetation volume scattering.",
            "VH / VV",
            [0.0, 0.5],
            "viridis",
        ),
        "vv_db" => (
            "vv_db",
            "VV backscatter (dB)",
            "Sentinel-1 VV gamma0 in dB (statistics from the linear-power mean): soil moisture and roughness, stems.",
            "10 * log10(VV)",
            [-25.0, 0.0],
            "greys",
        ),
        "vh_db" => (
            "vh_db",
            "VH backscatter (dB)",
            "Sentinel-1 VH gamma0 in dB (statistics from the linear-power mean): canopy volume; drops at harvest.",
            "10 * log10(VH)",
            [-30.0, -5.0],
            "greys",
        ),
        _ => return None,
    };
    let map = colormap::get(cmap)?;
    let legend = (0..5)
        .map(|i| {
            let value = range[0] + (range[1] - range[0]) * f64::from(i) / 4.0;
            LegendStop {
                value: (value * 1e6).round() / 1e6,
                color: colormap::hex(map[colormap::stretch_u8(value, range[0], range[1]) as usize]),
            }
        })
        .collect();
    Some(IndexInfo {
        name,
        title,
        description,
        formula,
        bands: vec!["VV", "VH"],
        range,
        colormap: cmap,
        legend,
    })
}

/// The value of a radar index at one pixel (linear VV and VH); NaN where invalid.
pub fn value(name: &str, vv: f64, vh: f64) -> f64 {
    if !valid(vv, vh) {
        return f64::NAN;
    }
    match name {
        "rvi" => 4.0 * vh / (vv + vh),
        "vh_vv" => vh / vv,
        "vv_db" => to_db(vv),
        "vh_db" => to_db(vh),
        _ => f64::NAN,
    }
}

fn valid(vv: f64, vh: f64) -> bool {
    vv.is_finite() && vh.is_finite() && vv > 0.0 && vh > 0.0
}

/// VV and VH on a field grid (linear power; NaN = no data), and which scene each pixel came
/// from.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarComposite {
    pub vv: Vec<f64>,
    pub vh: Vec<f64>,
    pub source: Vec<Option<usize>>,
}

impl RadarComposite {
    /// Per pixel the newest valid observation; `scenes` newest first, each `(vv, vh)` of
    /// `len` pixels.
    pub fn newest_valid(scenes: &[(&[f64], &[f64])], len: usize) -> RadarComposite {
        let mut c = RadarComposite {
            vv: vec![f64::NAN; len],
            vh: vec![f64::NAN; len],
            source: vec![None; len],
        };
        for (k, (vv, vh)) in scenes.iter().enumerate() {
            for i in 0..len {
                if c.source[i].is_none() && valid(vv[i], vh[i]) {
                    c.vv[i] = vv[i];
                    c.vh[i] = vh[i];
                    c.source[i] = Some(k);
                }
            }
        }
        c
    }

    /// The 3 × 3 boxcar speckle filter of both bands (see the module's doc).
    pub fn speckle_filtered(&self, width: usize, height: usize) -> RadarComposite {
        RadarComposite {
            vv: boxcar(&self.vv, &self.source, width, height),
            vh: boxcar(&self.vh, &self.source, width, height),
            source: self.source.clone(),
        }
    }

    /// Share of the zone's pixels with a valid value.
    pub fn valid_ratio(&self, zone: &[bool]) -> f64 {
        let (mut n, mut ok) = (0usize, 0usize);
        for (s, &z) in self.source.iter().zip(zone) {
            if z {
                n += 1;
                ok += usize::from(s.is_some());
            }
        }
        if n == 0 { 0.0 } else { ok as f64 / n as f64 }
    }

    /// Statistics of [`INDICES`] over the zone (see the module's doc for the dB rule).
    pub fn index_stats(&self, zone: &[bool]) -> Vec<(&'static str, Stats)> {
        let per_pixel = |f: &dyn Fn(f64, f64) -> f64| -> Vec<f64> {
            self.vv
                .iter()
                .zip(&self.vh)
                .map(|(&vv, &vh)| if valid(vv, vh) { f(vv, vh) } else { f64::NAN })
                .collect()
        };
        let rvi = per_pixel(&|vv, vh| 4.0 * vh / (vv + vh));
        let ratio = per_pixel(&|vv, vh| vh / vv);
        let db = |linear: &[f64]| {
            let mut s = zonal(linear, Some(zone));
            let per_pixel_db: Vec<f64> = linear.iter().map(|&v| to_db(v)).collect();
            let spread = zonal(&per_pixel_db, Some(zone)).std;
            let conv = |v: Option<f64>| v.map(to_db);
            s.mean = conv(s.mean);
            s.min = conv(s.min);
            s.max = conv(s.max);
            s.p10 = conv(s.p10);
            s.p50 = conv(s.p50);
            s.p90 = conv(s.p90);
            s.std = spread;
            s
        };
        let vv = per_pixel(&|vv, _| vv);
        let vh = per_pixel(&|_, vh| vh);
        vec![
            ("rvi", zonal(&rvi, Some(zone))),
            ("vh_vv", zonal(&ratio, Some(zone))),
            ("vv_db", db(&vv)),
            ("vh_db", db(&vh)),
        ]
    }
}

/// Linear power → dB.
pub fn to_db(linear: f64) -> f64 {
    10.0 * linear.log10()
}

fn boxcar(values: &[f64], source: &[Option<usize>], width: usize, height: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if source[i].is_none() {
                continue;
            }
            let (mut sum, mut n) = (0.0, 0usize);
            for yy in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                    let j = yy * width + xx;
                    if source[j].is_some() {
                        sum += values[j];
                        n += 1;
                    }
                }
            }
            out[i] = sum / n as f64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_filter_and_db_stats() {
        let nan = f64::NAN;
        // 3 × 2 grid; the newest scene lacks pixel 0, the older one fills it.
        let new_vv = [nan, 0.2, 0.2, 0.2, 0.2, 0.0];
        let new_vh = [nan, 0.05, 0.05, 0.05, 0.05, 0.05];
        let old_vv = [0.1, 0.9, 0.9, 0.9, 0.9, 0.9];
        let old_vh = [0.02, 0.9, 0.9, 0.9, 0.9, 0.9];
        let c = RadarComposite::newest_valid(&[(&new_vv, &new_vh), (&old_vv, &old_vh)], 6);
        assert_eq!(
            c.source,
            [Some(1), Some(0), Some(0), Some(0), Some(0), Some(1)]
        );
        let f = c.speckle_filtered(3, 2);
        // Pixel 2 (x 2, y 0) averages pixels 1, 2, 4, 5.
        assert!((f.vv[2] - (0.2 + 0.2 + 0.2 + 0.9) / 4.0).abs() < 1e-12);
        let zone = [true; 6];
        let stats = c.index_stats(&zone);
        let vv_db = &stats[2].1;
        let mean: f64 = (0.1 + 0.2 * 4.0 + 0.9) / 6.0;
        assert!((vv_db.mean.unwrap() - 10.0 * mean.log10()).abs() < 1e-12);
        assert_eq!(stats[0].0, "rvi");
        assert!((stats[0].1.max.unwrap() - 4.0 * 0.9 / 1.8).abs() < 1e-12);
        assert!(is_radar_index("vh_db") && !is_radar_index("ndvi"));
    }
}
