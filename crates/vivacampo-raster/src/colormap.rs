//! Value → colour: linear rescale, 256-entry colormaps (matplotlib's, as rio-tiler serves
//! them), true colour, RGBA with transparency where there is no data.

use crate::colormap_tables as t;

/// 256 RGB entries, index 0 for the low end of the range.
pub type Colormap = [[u8; 3]; 256];

/// Colormap names; any of them with `_r` appended is the reversed map.
pub const NAMES: [&str; 7] = [
    "rdylgn", "viridis", "blues", "ylgn", "spectral", "greys", "rdylbu",
];

/// A colormap by name (`rdylgn`, `viridis_r`, ...).
pub fn get(name: &str) -> Option<Colormap> {
    let (base, reversed) = match name.strip_suffix("_r") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let mut map = match base {
        "rdylgn" => t::RDYLGN,
        "viridis" => t::VIRIDIS,
        "blues" => t::BLUES,
        "ylgn" => t::YLGN,
        "spectral" => t::SPECTRAL,
        "greys" => t::GREYS,
        "rdylbu" => t::RDYLBU,
        _ => return None,
    };
    if reversed {
        map.reverse();
    }
    Some(map)
}

/// `v` rescaled linearly from `[lo, hi]` to 0–255 and clipped (rio-tiler's `linear_rescale`
/// followed by rounding).
pub fn stretch_u8(v: f64, lo: f64, hi: f64) -> u8 {
    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    (t * 255.0).round() as u8
}

/// `#rrggbb`.
pub fn hex(c: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// RGBA pixels for values rescaled over `[lo, hi]` through `cmap`; NaN is transparent.
pub fn apply(values: &[f64], lo: f64, hi: f64, cmap: &Colormap) -> Vec<u8> {
    let mut out = vec![0u8; values.len() * 4];
    let k = 255.0 / (hi - lo);
    for (px, &v) in out.chunks_exact_mut(4).zip(values) {
        if !v.is_nan() {
            // +0.5 and truncation: rounding without a libm call.
            let i = (((v - lo) * k).clamp(0.0, 255.0) + 0.5) as usize;
            let [r, g, b] = cmap[i.min(255)];
            px.copy_from_slice(&[r, g, b, 255]);
        }
    }
    out
}

/// True-colour RGBA from red, green and blue reflectance, stretched linearly from 0 to `max`
/// (0.3 in the catalogue) and clipped; transparent where any band is NaN.
pub fn true_color(red: &[f64], green: &[f64], blue: &[f64], max: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(red.len() * 4);
    for ((&r, &g), &b) in red.iter().zip(green).zip(blue) {
        if r.is_nan() || g.is_nan() || b.is_nan() {
            out.extend_from_slice(&[0, 0, 0, 0]);
        } else {
            out.extend_from_slice(&[
                stretch_u8(r, 0.0, max),
                stretch_u8(g, 0.0, max),
                stretch_u8(b, 0.0, max),
                255,
            ]);
        }
    }
    out
}

/// Makes pixels outside `mask` transparent.
pub fn clip_to_mask(rgba: &mut [u8], mask: &[bool]) {
    for (px, &inside) in rgba.chunks_exact_mut(4).zip(mask) {
        if !inside {
            px.copy_from_slice(&[0, 0, 0, 0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_rescale() {
        let g = get("greys").unwrap();
        assert_eq!(g[0], [255, 255, 255]);
        assert_eq!(get("greys_r").unwrap()[0], g[255]);
        assert!(get("jet").is_none());
        let rgba = apply(
            &[-1.0, 0.5, f64::NAN, 9.0],
            0.0,
            1.0,
            &get("viridis").unwrap(),
        );
        assert_eq!(&rgba[..4], &[68, 1, 84, 255]);
        assert_eq!(rgba[11], 0);
        assert_eq!(&rgba[12..16], &[253, 231, 37, 255]);
        assert_eq!(
            true_color(&[0.3], &[0.15], &[0.0], 0.3),
            vec![255, 128, 0, 255]
        );
    }
}
