//! Model inputs for tests: seeded pseudo-random tensors and 8-bit grayscale
//! BMP images.
//!
//! The generator is a small xorshift64* so that inputs stay the same across
//! platforms and crate versions. It is not suitable for anything beyond
//! test data.

use std::path::Path;

use super::npy::{ElementType, NpyArray, NpyData};

/// xorshift64* seeded through one splitmix64 step, so that seed 0 and
/// nearby seeds give unrelated streams.
struct XorShift64Star {
    state: u64,
}

impl XorShift64Star {
    fn new(seed: u64) -> XorShift64Star {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The all-zero state is a fixed point of xorshift.
        XorShift64Star {
            state: if z == 0 { 1 } else { z },
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Generates a deterministic pseudo-random array.
///
/// Integer elements are uniform over the whole range of their type (the
/// top bits of each draw, truncated to the type's width). `F32` elements
/// are uniform in [-1, 1) on a grid of 2^-23, the range the generated test
/// models were calibrated on. `Bool` elements are fair coin flips. The same
/// shape, type and seed give the same array on every platform.
pub fn random_input(shape: &[usize], element_type: ElementType, seed: u64) -> NpyArray {
    let count: usize = shape.iter().product();
    let mut rng = XorShift64Star::new(seed);
    let draws = (0..count).map(move |_| rng.next_u64());
    let data = match element_type {
        ElementType::I8 => NpyData::I8(draws.map(|r| (r >> 56) as u8 as i8).collect()),
        ElementType::U8 => NpyData::U8(draws.map(|r| (r >> 56) as u8).collect()),
        ElementType::I16 => NpyData::I16(draws.map(|r| (r >> 48) as u16 as i16).collect()),
        ElementType::I32 => NpyData::I32(draws.map(|r| (r >> 32) as u32 as i32).collect()),
        ElementType::I64 => NpyData::I64(draws.map(|r| r as i64).collect()),
        ElementType::F32 => {
            // 24 random bits scaled to [0, 2), then shifted to [-1, 1); both
            // steps are exact in f32.
            let to_unit = |r: u64| (r >> 40) as f32 / (1u32 << 23) as f32 - 1.0;
            NpyData::F32(draws.map(to_unit).collect())
        }
        ElementType::Bool => NpyData::Bool(draws.map(|r| r >> 63 == 1).collect()),
    };
    NpyArray {
        shape: shape.to_vec(),
        data,
    }
}

/// Reads an 8-bit grayscale BMP as the int8 tensor `[1, H, W, 1]` that
/// person_detect takes.
///
/// Rows are returned top-down (a positive height in the header means the
/// file stores them bottom-up). Each pixel byte is reinterpreted as int8
/// with no offset subtracted, which is the input that gives person_detect's
/// reference output. The palette is ignored, so a non-grayscale palette
/// gives palette indices, not intensities. Rows are read with the BMP row
/// stride, the width rounded up to a multiple of 4 bytes.
pub fn bmp_to_int8(path: &Path) -> Result<NpyArray, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    let invalid = |what: &str| format!("{}: invalid BMP: {what}", path.display());
    let field = |offset: usize, len: usize| -> Result<&[u8], String> {
        bytes
            .get(offset..offset + len)
            .ok_or_else(|| invalid(&format!("header ends before byte {}", offset + len)))
    };
    let le_u32 = |offset| field(offset, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let le_i32 = |offset| field(offset, 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));

    if field(0, 2)? != b"BM" {
        return Err(invalid("missing the \"BM\" signature"));
    }
    let pixel_offset = le_u32(10)? as usize;
    let width = le_i32(18)?;
    let height = le_i32(22)?;
    let bits_per_pixel = field(28, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))?;
    if bits_per_pixel != 8 {
        return Err(format!(
            "{}: {bits_per_pixel}-bit BMP; only 8-bit grayscale is supported",
            path.display()
        ));
    }
    if width <= 0 || height == 0 {
        return Err(invalid(&format!("image size {width}x{height}")));
    }

    let width = width as usize;
    let rows = height.unsigned_abs() as usize;
    let stride = width.div_ceil(4) * 4;
    let mut pixels = Vec::with_capacity(width * rows);
    for row in 0..rows {
        // A positive height stores the bottom row first.
        let stored_row = if height > 0 { rows - 1 - row } else { row };
        let start = pixel_offset + stored_row * stride;
        let row_bytes = bytes
            .get(start..start + width)
            .ok_or_else(|| invalid(&format!("pixel data ends before row {stored_row}")))?;
        pixels.extend(row_bytes.iter().map(|&byte| byte as i8));
    }
    Ok(NpyArray {
        shape: vec![1, rows, width, 1],
        data: NpyData::I8(pixels),
    })
}
