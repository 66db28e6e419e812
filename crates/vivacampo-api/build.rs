//! Embeds the web app: every file under `web/src` (the app itself) and `web/vendor` (the browser
//! libraries, copied from npm by `web/build.mjs` and committed) becomes a
//! `(path, Asset { bytes, etag, gzipped })` entry of `$OUT_DIR/web_assets.rs` — `web/src/app.css`
//! as `app.css`, `web/vendor/leaflet/leaflet.js` as `vendor/leaflet/leaflet.js` — so the binary
//! serves the UI with no npm step and no files beside it. Text files also get a gzip copy, made here once,
//! for clients that accept it (scripts and styles shrink to about a third).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// FNV-1a, 64 bits: a content fingerprint for the ETag (not a security property).
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let mut files = Vec::new();
    for (dir, prefix) in [("src", ""), ("vendor", "vendor/")] {
        let root = web.join(dir);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut found = Vec::new();
        collect(&root, &mut found);
        for file in found {
            let relative = file
                .strip_prefix(&root)
                .expect("under its root")
                .to_string_lossy()
                .replace('\\', "/");
            files.push((format!("{prefix}{relative}"), file));
        }
    }
    files.sort();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut out = String::from("pub static ASSETS: &[(&str, super::Asset)] = &[\n");
    for (relative, file) in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let bytes = std::fs::read(file).expect("read a web file");
        let absolute = file.canonicalize().expect("canonical path");
        let etag = fingerprint(&bytes);
        // The gzip copy is another representation: its own ETag.
        let gzipped = gzip_if_worth_it(relative, &bytes).map(|gz| {
            let path = out_dir.join("gz").join(format!("{relative}.gz"));
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("make a gz dir");
            std::fs::write(&path, gz).expect("write a gz file");
            format!(
                "Some((include_bytes!({:?}), \"\\\"{etag:016x}-gz\\\"\"))",
                path.display().to_string()
            )
        });
        writeln!(
            out,
            "    ({relative:?}, super::Asset {{ bytes: include_bytes!({:?}), etag: \"\\\"{etag:016x}\\\"\", gzipped: {} }}),",
            absolute.display().to_string(),
            gzipped.as_deref().unwrap_or("None")
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let target = out_dir.join("web_assets.rs");
    std::fs::write(target, out).expect("write web_assets.rs");
}

/// The gzip of a text file when it saves at least a tenth; images are compressed already.
fn gzip_if_worth_it(path: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let text = [".js", ".css", ".html", ".svg", ".json"];
    if !text.iter().any(|ext| path.ends_with(ext)) {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip in memory");
    let gz = encoder.finish().expect("gzip in memory");
    (gz.len() * 10 < bytes.len() * 9).then_some(gz)
}
