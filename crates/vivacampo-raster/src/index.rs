//! Spectral indices on surface reflectance, as defined by Awesome Spectral Indices (spyndex),
//! and their catalogue for `GET /v1/indices`.
//!
//! Inputs are reflectance (DN × scale + offset, see [`Scaling`]), never raw digital numbers.
//! A pixel whose result is not finite (division by zero) or lies outside the index's valid
//! range is NaN, so it drops out of statistics and renders transparent.

use serde::{Deserialize, Serialize};

use crate::colormap;
use crate::error::{Error, Result};
use crate::mask::SclPolicy;

/// Sentinel-2 bands the catalogue uses, by their Earth Search asset names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// B02
    Blue,
    /// B03
    Green,
    /// B04
    Red,
    /// B05
    Rededge1,
    /// B08
    Nir,
    /// B11
    Swir16,
    /// B12
    Swir22,
}

impl Band {
    pub const ALL: [Band; 7] = [
        Band::Blue,
        Band::Green,
        Band::Red,
        Band::Rededge1,
        Band::Nir,
        Band::Swir16,
        Band::Swir22,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Band::Blue => "blue",
            Band::Green => "green",
            Band::Red => "red",
            Band::Rededge1 => "rededge1",
            Band::Nir => "nir",
            Band::Swir16 => "swir16",
            Band::Swir22 => "swir22",
        }
    }

    pub fn from_name(s: &str) -> Option<Band> {
        Band::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// Reflectance of one pixel; unused bands are NaN.
#[derive(Debug, Clone, Copy)]
struct Px {
    b: f64,
    g: f64,
    r: f64,
    re1: f64,
    n: f64,
    s1: f64,
    s2: f64,
}

struct Def {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    formula: &'static str,
    bands: &'static [Band],
    /// Display range (rescale) for tiles and legends.
    range: [f64; 2],
    /// Results outside this are masked.
    valid: [f64; 2],
    colormap: &'static str,
    f: fn(Px) -> f64,
}

use Band::*;

fn nd(a: f64, b: f64) -> f64 {
    (a - b) / (a + b)
}

const DEFS: [Def; 13] = [
    Def {
        name: "ndvi",
        title: "NDVI",
        description: "Normalized Difference Vegetation Index: green biomass and vigour (bare soil < 0.2, sparse 0.2–0.5, dense canopy > 0.6).",
        formula: "(N - R) / (N + R)",
        bands: &[Nir, Red],
        range: [0.0, 0.9],
        valid: [-1.0, 1.0],
        colormap: "rdylgn",
        f: |p| nd(p.n, p.r),
    },
    Def {
        name: "ndre",
        title: "NDRE",
        description: "Normalized Difference Red Edge: chlorophyll in dense canopies (spyndex NDREI).",
        formula: "(N - RE1) / (N + RE1)",
        bands: &[Nir, Rededge1],
        range: [0.0, 0.7],
        valid: [-1.0, 1.0],
        colormap: "rdylgn",
        f: |p| nd(p.n, p.re1),
    },
    Def {
        name: "ndwi",
        title: "NDWI",
        description: "Normalized Difference Water Index (McFeeters): open water above 0; vegetation −0.8…−0.4, bare soil −0.4…−0.1.",
        formula: "(G - N) / (G + N)",
        bands: &[Green, Nir],
        range: [-0.8, 0.0],
        valid: [-1.0, 1.0],
        colormap: "viridis",
        f: |p| nd(p.g, p.n),
    },
    Def {
        name: "ndmi",
        title: "NDMI",
        description: "Normalized Difference Moisture Index: canopy water content (bare or dry < 0, well-watered canopy > 0.3).",
        formula: "(N - S1) / (N + S1)",
        bands: &[Nir, Swir16],
        range: [-0.4, 0.5],
        valid: [-1.0, 1.0],
        colormap: "rdylbu",
        f: |p| nd(p.n, p.s1),
    },
    Def {
        name: "evi",
        title: "EVI",
        description: "Enhanced Vegetation Index (g = 2.5, C1 = 6, C2 = 7.5, L = 1): vigour without saturation in dense canopies.",
        formula: "2.5 * (N - R) / (N + 6 * R - 7.5 * B + 1)",
        bands: &[Nir, Red, Blue],
        range: [0.0, 0.8],
        valid: [-1.0, 1.0],
        colormap: "rdylgn",
        f: |p| 2.5 * (p.n - p.r) / (p.n + 6.0 * p.r - 7.5 * p.b + 1.0),
    },
    Def {
        name: "savi",
        title: "SAVI",
        description: "Soil-Adjusted Vegetation Index (L = 0.5): vigour over bright or sparse soil.",
        formula: "1.5 * (N - R) / (N + R + 0.5)",
        bands: &[Nir, Red],
        range: [0.0, 0.7],
        valid: [-1.5, 1.5],
        colormap: "rdylgn",
        f: |p| 1.5 * (p.n - p.r) / (p.n + p.r + 0.5),
    },
    Def {
        name: "gndvi",
        title: "GNDVI",
        description: "Green NDVI: chlorophyll, more sensitive than NDVI late in the season.",
        formula: "(N - G) / (N + G)",
        bands: &[Nir, Green],
        range: [0.2, 0.8],
        valid: [-1.0, 1.0],
        colormap: "ylgn",
        f: |p| nd(p.n, p.g),
    },
    Def {
        name: "reci",
        title: "CIre",
        description: "Red-edge Chlorophyll Index: leaf chlorophyll and nitrogen.",
        formula: "N / RE1 - 1",
        bands: &[Nir, Rededge1],
        range: [0.0, 4.0],
        valid: [-1.0, 50.0],
        colormap: "viridis",
        f: |p| p.n / p.re1 - 1.0,
    },
    Def {
        name: "msi",
        title: "MSI",
        description: "Moisture Stress Index: higher is drier (< 0.6 well hydrated, > 1.6 severe stress).",
        formula: "S1 / N",
        bands: &[Swir16, Nir],
        range: [0.2, 2.0],
        valid: [0.0, 50.0],
        colormap: "spectral_r",
        f: |p| p.s1 / p.n,
    },
    Def {
        name: "nbr",
        title: "NBR",
        description: "Normalized Burn Ratio: burnt areas and harvest.",
        formula: "(N - S2) / (N + S2)",
        bands: &[Nir, Swir22],
        range: [-0.2, 0.7],
        valid: [-1.0, 1.0],
        colormap: "rdylgn",
        f: |p| nd(p.n, p.s2),
    },
    Def {
        name: "bsi",
        title: "BSI",
        description: "Bare Soil Index (spyndex BI): exposed soil.",
        formula: "((S1 + R) - (N + B)) / ((S1 + R) + (N + B))",
        bands: &[Swir16, Red, Nir, Blue],
        range: [-0.5, 0.3],
        valid: [-1.0, 1.0],
        colormap: "spectral_r",
        f: |p| nd(p.s1 + p.r, p.n + p.b),
    },
    Def {
        name: "ari",
        title: "ARI",
        description: "Anthocyanin Reflectance Index: plant stress pigments.",
        formula: "1 / G - 1 / RE1",
        bands: &[Green, Rededge1],
        range: [2.0, 7.0],
        valid: [-50.0, 50.0],
        colormap: "viridis",
        f: |p| 1.0 / p.g - 1.0 / p.re1,
    },
    Def {
        name: "cri",
        title: "CRI",
        description: "Carotenoid Reflectance Index (spyndex CRI550).",
        formula: "1 / B - 1 / G",
        bands: &[Blue, Green],
        range: [0.0, 30.0],
        valid: [-50.0, 50.0],
        colormap: "viridis",
        f: |p| 1.0 / p.b - 1.0 / p.g,
    },
];

/// A catalogue entry, the shape of `GET /v1/indices`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub formula: &'static str,
    pub bands: Vec<&'static str>,
    pub range: [f64; 2],
    pub colormap: &'static str,
    pub legend: Vec<LegendStop>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegendStop {
    pub value: f64,
    /// `#rrggbb`
    pub color: String,
}

/// Every index name the API accepts, in catalogue order.
pub const NAMES: [&str; 14] = [
    "ndvi",
    "ndre",
    "ndwi",
    "ndmi",
    "evi",
    "savi",
    "gndvi",
    "reci",
    "msi",
    "nbr",
    "bsi",
    "ari",
    "cri",
    "true_color",
];

/// True colour's linear stretch: reflectance 0 → 0 and [`TRUE_COLOR_MAX`] → 255, clipped.
pub const TRUE_COLOR_MAX: f64 = 0.3;

/// The catalogue.
pub fn catalogue() -> Vec<IndexInfo> {
    NAMES.iter().filter_map(|n| info(n)).collect()
}

/// One catalogue entry.
pub fn info(name: &str) -> Option<IndexInfo> {
    if name == "true_color" {
        let stops = [0.0, 0.1, 0.2, 0.3];
        return Some(IndexInfo {
            name: "true_color",
            title: "True colour",
            description: "Red, green and blue reflectance, stretched linearly from 0 to 0.3.",
            formula: "RGB(R, G, B)",
            bands: vec!["red", "green", "blue"],
            range: [0.0, TRUE_COLOR_MAX],
            colormap: "rgb",
            legend: stops
                .iter()
                .map(|&v| LegendStop {
                    value: v,
                    color: colormap::hex([colormap::stretch_u8(v, 0.0, TRUE_COLOR_MAX); 3]),
                })
                .collect(),
        });
    }
    let d = DEFS.iter().find(|d| d.name == name)?;
    let cmap = colormap::get(d.colormap)?;
    let legend = (0..5)
        .map(|i| {
            let value = d.range[0] + (d.range[1] - d.range[0]) * f64::from(i) / 4.0;
            let c = cmap[colormap::stretch_u8(value, d.range[0], d.range[1]) as usize];
            LegendStop {
                value: (value * 1e6).round() / 1e6,
                color: colormap::hex(c),
            }
        })
        .collect();
    Some(IndexInfo {
        name: d.name,
        title: d.title,
        description: d.description,
        formula: d.formula,
        bands: d.bands.iter().map(|b| b.name()).collect(),
        range: d.range,
        colormap: d.colormap,
        legend,
    })
}

/// The bands an index needs.
pub fn bands(name: &str) -> Result<&'static [Band]> {
    if name == "true_color" {
        return Ok(&[Red, Green, Blue]);
    }
    DEFS.iter()
        .find(|d| d.name == name)
        .map(|d| d.bands)
        .ok_or_else(|| unknown(name))
}

fn unknown(name: &str) -> Error {
    Error::Invalid(format!(
        "unknown index {name:?} (known: {})",
        NAMES.join(", ")
    ))
}

/// Computes a scalar index from reflectance bands (each the same length). `true_color` is not
/// scalar: render it with [`crate::colormap::true_color`].
pub fn compute(name: &str, input: &[(Band, &[f64])]) -> Result<Vec<f64>> {
    let d = DEFS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| unknown(name))?;
    let get = |b: Band| input.iter().find(|(k, _)| *k == b).map(|(_, v)| *v);
    let mut cols: [Option<&[f64]>; 7] = [None; 7];
    for b in d.bands {
        cols[*b as usize] =
            Some(get(*b).ok_or_else(|| Error::Invalid(format!("{name} needs band {}", b.name())))?);
    }
    let len = d
        .bands
        .iter()
        .filter_map(|b| cols[*b as usize])
        .map(<[f64]>::len)
        .min()
        .unwrap_or(0);
    if d.bands
        .iter()
        .filter_map(|b| cols[*b as usize])
        .any(|c| c.len() != len)
    {
        return Err(Error::Invalid("bands differ in length".into()));
    }
    let at = |b: Band, i: usize| cols[b as usize].map_or(f64::NAN, |c| c[i]);
    Ok((0..len)
        .map(|i| {
            let p = Px {
                b: at(Blue, i),
                g: at(Green, i),
                r: at(Red, i),
                re1: at(Rededge1, i),
                n: at(Nir, i),
                s1: at(Swir16, i),
                s2: at(Swir22, i),
            };
            let v = (d.f)(p);
            if v.is_finite() && v >= d.valid[0] && v <= d.valid[1] {
                v
            } else {
                f64::NAN
            }
        })
        .collect())
}

/// Digital numbers to reflectance: `DN × scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    pub scale: f64,
    pub offset: f64,
}

impl Scaling {
    pub const IDENTITY: Scaling = Scaling {
        scale: 1.0,
        offset: 0.0,
    };

    /// Sentinel-2 L2A, with the processing-baseline 04.00 offset (BOA_ADD_OFFSET = −1000 DN)
    /// applied when the scene needs it: not when Earth Search already removed it
    /// (`earthsearch:boa_offset_applied: true`), yes for baseline ≥ 04.00, no before.
    pub fn sentinel2(
        processing_baseline: Option<&str>,
        boa_offset_applied: Option<bool>,
    ) -> Scaling {
        let shifted = boa_offset_applied != Some(true)
            && processing_baseline.is_some_and(baseline_at_least_4);
        Scaling {
            scale: 1e-4,
            offset: if shifted { -0.1 } else { 0.0 },
        }
    }

    /// Reflectance of DNs; `nodata` DNs (and NaN) become NaN.
    pub fn apply(self, dn: &[f64], nodata: Option<f64>) -> Vec<f64> {
        dn.iter()
            .map(|&v| {
                if Some(v) == nodata || v.is_nan() {
                    f64::NAN
                } else {
                    v * self.scale + self.offset
                }
            })
            .collect()
    }
}

fn baseline_at_least_4(b: &str) -> bool {
    let major = b
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok());
    major.is_some_and(|m| m >= 4)
}

/// Sets to NaN every pixel whose SCL class is not clear under `policy` (NaN SCL = no data).
pub fn mask_scl(values: &mut [f64], scl: &[f64], policy: SclPolicy) {
    for (v, &c) in values.iter_mut().zip(scl) {
        if !(c.is_finite() && (0.0..=255.0).contains(&c) && policy.is_clear(c as u8)) {
            *v = f64::NAN;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_trap() {
        assert_eq!(Scaling::sentinel2(Some("05.09"), Some(true)).offset, 0.0);
        assert_eq!(Scaling::sentinel2(Some("05.09"), Some(false)).offset, -0.1);
        assert_eq!(Scaling::sentinel2(Some("04.00"), None).offset, -0.1);
        assert_eq!(Scaling::sentinel2(Some("03.01"), None).offset, 0.0);
        let r = Scaling::sentinel2(Some("05.10"), None).apply(&[0.0, 2000.0], Some(0.0));
        assert!(r[0].is_nan() && (r[1] - 0.1).abs() < 1e-12);
    }

    #[test]
    fn division_by_zero_is_masked() {
        let z = [0.0, 0.3];
        let v = compute("ndvi", &[(Nir, &z), (Red, &z)]).unwrap();
        assert!(v[0].is_nan() && v[1] == 0.0);
        assert!(compute("ndvi", &[(Nir, &z)]).is_err());
        assert!(compute("nope", &[]).is_err());
    }

    #[test]
    fn catalogue_is_complete() {
        let c = catalogue();
        assert_eq!(c.iter().map(|i| i.name).collect::<Vec<_>>(), NAMES);
        assert!(
            c.iter()
                .all(|i| i.legend.len() >= 4 && i.legend.iter().all(|s| s.color.len() == 7))
        );
        let json = serde_json::to_value(&c[0]).unwrap();
        for key in [
            "name",
            "title",
            "description",
            "formula",
            "bands",
            "range",
            "colormap",
            "legend",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
