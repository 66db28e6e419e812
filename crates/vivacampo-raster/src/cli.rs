//! The library side of `vivacampo raster info|stats|tile`: each returns a serde value whose
//! JSON is the command's output (issue 3 §8).

use std::fs::File;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::geo::GeoTransform;
use crate::mask::{self, Polygon};
use crate::render::{self, Selection, Style};
use crate::stats::{self, Stats};
use crate::tiff::{self, Tiff, Window};

#[derive(Debug, Serialize)]
pub struct Info {
    pub width: u32,
    pub height: u32,
    pub bands: Vec<BandEntry>,
    pub epsg: Option<u32>,
    /// GDAL order.
    pub geotransform: Option<[f64; 6]>,
    /// The extent of the reprojected edges (densified), not only the corners.
    pub bounds_lonlat: Option<[f64; 4]>,
    pub overviews: Vec<[u32; 2]>,
    pub compression: &'static str,
    pub tile: Option<[u32; 2]>,
    /// `COG` (tiled, IFDs before data) or `GeoTIFF`.
    pub layout: &'static str,
    /// `pixel` or `band`.
    pub interleave: &'static str,
    pub internal_mask: bool,
}

#[derive(Debug, Serialize)]
pub struct BandEntry {
    pub band: usize,
    pub dtype: &'static str,
    /// A number, or `"nan"`.
    pub nodata: Option<Value>,
    pub description: Option<String>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct TileReport {
    pub path: String,
    pub width: u32,
    pub height: u32,
    /// False when the tile holds no data (fully transparent).
    pub has_data: bool,
}

fn open(path: &Path) -> Result<(File, Tiff)> {
    let file = File::open(path)?;
    let tiff = tiff::open(&file)?;
    Ok((file, tiff))
}

pub fn info(path: &Path) -> Result<Info> {
    let (_, t) = open(path)?;
    let l0 = &t.levels[0];
    let nodata = t.nodata.map(|v| {
        if v.is_nan() {
            Value::from("nan")
        } else {
            serde_json::json!(v)
        }
    });
    let bands = (0..l0.bands as usize)
        .map(|b| {
            let i = t.band_info.get(b).cloned().unwrap_or_default();
            BandEntry {
                band: b + 1,
                dtype: l0.dtype.name(),
                nodata: nodata.clone(),
                description: i.description,
                scale: i.scale,
                offset: i.offset,
            }
        })
        .collect();
    let bounds_lonlat = match t.georef {
        Some(g) => g
            .epsg
            .map(|e| lonlat_bounds(&g.transform, e, t.width(), t.height()))
            .transpose()?,
        None => None,
    };
    Ok(Info {
        width: t.width(),
        height: t.height(),
        bands,
        epsg: t.georef.and_then(|g| g.epsg),
        geotransform: t.georef.map(|g| g.transform.0),
        bounds_lonlat,
        overviews: t.levels[1..].iter().map(|l| [l.width, l.height]).collect(),
        compression: l0.compression.name(),
        tile: l0.tiled.then_some([l0.block_w, l0.block_h]),
        layout: if t.is_cog() { "COG" } else { "GeoTIFF" },
        interleave: if l0.planar && l0.bands > 1 {
            "band"
        } else {
            "pixel"
        },
        internal_mask: t.mask_for(0).is_some(),
    })
}

/// Lon/lat extent of the raster's outline, 64 points per edge.
fn lonlat_bounds(gt: &GeoTransform, epsg: u32, w: u32, h: u32) -> Result<[f64; 4]> {
    let crs = Crs::from_epsg(epsg)?;
    let (w, h) = (f64::from(w), f64::from(h));
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for i in 0..=64 {
        let t = f64::from(i) / 64.0;
        for (c, r) in [(t * w, 0.0), (t * w, h), (0.0, t * h), (w, t * h)] {
            let (x, y) = gt.apply(c, r);
            let (lon, lat) = crs.to_lonlat(x, y);
            b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
        }
    }
    Ok(b)
}

/// Statistics of a band or an index, over the whole raster or the pixel centres inside a
/// GeoJSON (lon/lat) polygon.
pub fn stats(path: &Path, selection: &Selection, aoi_geojson: Option<&str>) -> Result<Stats> {
    let (file, t) = open(path)?;
    let georef = t.georef;
    let (window, zone) = match aoi_geojson {
        None => (Window::new(0, 0, t.width(), t.height()), None),
        Some(text) => {
            let g = georef
                .ok_or_else(|| Error::Invalid("raster has no georeferencing for --aoi".into()))?;
            let crs = Crs::from_epsg(
                g.epsg
                    .ok_or_else(|| Error::Invalid("raster has no EPSG code for --aoi".into()))?,
            )?;
            let polys: Vec<Polygon> = mask::polygons_from_geojson(text)?
                .iter()
                .map(|p| p.reproject(&Crs::LonLat { epsg: 4326 }, &crs))
                .collect();
            match aoi_window(&polys, &g.transform, t.width(), t.height())? {
                Some(w) => {
                    let (x, y) = g.transform.apply(f64::from(w.col), f64::from(w.row));
                    let gt = g.transform.0;
                    let wt = GeoTransform([x, gt[1], gt[2], y, gt[4], gt[5]]);
                    (
                        w,
                        Some(mask::rasterize(
                            &polys,
                            &wt,
                            w.width as usize,
                            w.height as usize,
                            false,
                        )?),
                    )
                }
                None => return Ok(stats::zonal(&[], None)),
            }
        }
    };
    let raster = t.read_window(&file, 0, window)?;
    let m = crate::warp::read_mask(&t, &file, 0, window)?;
    let r = raster.to_f64_masked(t.nodata, m.as_deref());
    let v = render::values(&r, selection, &render::scalings(&t))?;
    Ok(stats::zonal(&v, zone.as_deref()))
}

/// The pixel window covering the polygons, or `None` if they miss the raster.
fn aoi_window(polys: &[Polygon], gt: &GeoTransform, w: u32, h: u32) -> Result<Option<Window>> {
    let inv = gt
        .invert()
        .ok_or_else(|| Error::Invalid("singular geotransform".into()))?;
    let (mut c0, mut r0, mut c1, mut r1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in polys.iter().flat_map(|p| &p.exterior) {
        let (c, r) = inv.apply(x, y);
        (c0, r0, c1, r1) = (c0.min(c), r0.min(r), c1.max(c), r1.max(r));
    }
    let c0 = c0.floor().max(0.0);
    let r0 = r0.floor().max(0.0);
    let c1 = c1.ceil().min(f64::from(w));
    let r1 = r1.ceil().min(f64::from(h));
    Ok((c1 > c0 && r1 > r0)
        .then(|| Window::new(c0 as u32, r0 as u32, (c1 - c0) as u32, (r1 - r0) as u32)))
}

/// Renders XYZ tile z/x/y to a 256 x 256 RGBA PNG at `out` (transparent when it holds no
/// data).
pub fn tile(
    path: &Path,
    z: u8,
    x: u32,
    y: u32,
    selection: &Selection,
    style: &Style,
    out: &Path,
) -> Result<TileReport> {
    let (file, t) = open(path)?;
    let png = render::tile_png(&t, &file, z, x, y, selection, style)?;
    let has_data = png.is_some();
    let png = match png {
        Some(p) => p,
        None => crate::png::encode_rgba(256, 256, &vec![0; 256 * 256 * 4])?,
    };
    std::fs::write(out, png)?;
    Ok(TileReport {
        path: out.display().to_string(),
        width: 256,
        height: 256,
        has_data,
    })
}
