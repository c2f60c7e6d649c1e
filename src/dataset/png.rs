//! PNG encoding of a dataset's images and masks (8-bit RGB, 8- and 16-bit grey), tuned for
//! speed.

/// Encodes with fast deflate: dataset PNGs are written once and read many times, and the
/// compression level barely changes their size for rendered content.
fn encode(
    data: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
    depth: png::BitDepth,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2);
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(color);
        enc.set_depth(depth);
        enc.set_compression(png::Compression::Fast);
        enc.set_filter(png::FilterType::Sub);
        let mut w = enc
            .write_header()
            .expect("PNG header into a Vec cannot fail");
        w.write_image_data(data)
            .expect("PNG data of the declared size into a Vec cannot fail");
    }
    out
}

/// 8-bit RGB PNG.
pub fn png_rgb(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    encode(
        rgb,
        width,
        height,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
    )
}

/// 8-bit greyscale PNG.
pub fn png_u8(values: &[u8], width: u32, height: u32) -> Vec<u8> {
    encode(
        values,
        width,
        height,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
    )
}

/// 16-bit greyscale PNG (big-endian samples, as PNG stores them).
pub fn png_u16(values: impl Iterator<Item = u16>, width: u32, height: u32) -> Vec<u8> {
    let bytes: Vec<u8> = values.flat_map(|v| v.to_be_bytes()).collect();
    encode(
        &bytes,
        width,
        height,
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
    )
}
