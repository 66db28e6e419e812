//! PNG encoding of RGBA tiles.

use crate::error::{Error, Result};

/// Encodes RGBA8 pixels as PNG with fast settings (fdeflate + Up filter: ~0.4 ms for 256²).
pub fn encode_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>> {
    if rgba.len() != width as usize * height as usize * 4 {
        return Err(Error::Invalid(format!(
            "{} bytes for a {width} x {height} RGBA image",
            rgba.len()
        )));
    }
    let mut out = Vec::with_capacity(rgba.len() / 4);
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let png_err = |e: png::EncodingError| Error::Png(e.to_string());
    let mut w = enc.write_header().map_err(png_err)?;
    w.write_image_data(rgba).map_err(png_err)?;
    w.finish().map_err(png_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_back() {
        let rgba: Vec<u8> = (0..16 * 8 * 4).map(|i| (i % 251) as u8).collect();
        let png = super::encode_rgba(16, 8, &rgba).unwrap();
        let mut dec = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; dec.output_buffer_size().unwrap()];
        dec.next_frame(&mut buf).unwrap();
        assert_eq!(buf, rgba);
        assert!(super::encode_rgba(16, 8, &rgba[1..]).is_err());
    }
}
