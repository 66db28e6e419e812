//! Any bytes through the TIFF reader: parse, then decode every level, mask and a window of
//! each, and warp into a tile grid. Errors are fine; panics, hangs and huge allocations are
//! bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivacampo_raster::tiff::{self, Window};

fuzz_target!(|data: &[u8]| {
    let bytes = data.to_vec();
    let Ok(t) = tiff::open(&bytes) else { return };
    for level in 0..t.levels.len() {
        let l = &t.levels[level];
        let _ = t.read_window(&bytes, level, Window::new(0, 0, l.width, l.height));
        let (w, h) = (l.width.div_ceil(3), l.height.div_ceil(3));
        let _ = t.read_window(&bytes, level, Window::new(l.width - w, l.height - h, w, h));
    }
    for m in 0..t.masks.len() {
        let l = &t.masks[m];
        if let Ok(plan) = t.plan(m, Window::new(0, 0, l.width, l.height), true) {
            if let Ok(r) = vivacampo_raster::source::ReadAt::fetch(&bytes, &plan.ranges) {
                let _ = t.decode(&plan, &r);
            }
        }
    }
    let grid = vivacampo_raster::tile::grid(10, 380, 570, 32);
    let _ = vivacampo_raster::warp::read_into_grid(&t, &bytes, &grid, vivacampo_raster::warp::Resampling::Bilinear, None);
});
