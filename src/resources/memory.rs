//! Block RAM and UltraRAM for the four on-chip buffers: each buffer's word
//! width and depth, mapped onto the legal BRAM36 and BRAM18 aspect ratios
//! or onto 4K x 72 UltraRAM blocks.
//!
//! Limitation: an estimate. Every slice of a buffer's word covers the
//! whole depth in one aspect ratio, with no mixing of aspects along the
//! depth. The banks of a double-buffered buffer are separate memories.
//! Small buffers never go to distributed (LUT) RAM, and the multiplexers
//! around the primitives are left to the logic estimate.

use super::widths::UnitWidths;
use crate::hw::BufferConfig;
use serde::Serialize;

/// A block RAM primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Primitive {
    /// 36 Kb block RAM.
    Bram36,
    /// 18 Kb block RAM, half a BRAM36 site.
    Bram18,
    /// 288 Kb UltraRAM, 4K x 72 only.
    Uram,
}

impl Primitive {
    pub fn name(self) -> &'static str {
        match self {
            Primitive::Bram36 => "BRAM36",
            Primitive::Bram18 => "BRAM18",
            Primitive::Uram => "URAM",
        }
    }
}

/// One configuration of a primitive: `depth` words of `width` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Aspect {
    pub primitive: Primitive,
    pub depth: u64,
    pub width: u32,
}

const fn aspect(primitive: Primitive, depth: u64, width: u32) -> Aspect {
    Aspect {
        primitive,
        depth,
        width,
    }
}

/// The block RAM aspect ratios, widest first. The 72-bit BRAM36 and the
/// 36-bit BRAM18 shapes are simple dual port (one read, one write port),
/// which is how a buffer is used.
pub const BRAM_ASPECTS: [Aspect; 13] = [
    aspect(Primitive::Bram36, 512, 72),
    aspect(Primitive::Bram36, 1024, 36),
    aspect(Primitive::Bram36, 2048, 18),
    aspect(Primitive::Bram36, 4096, 9),
    aspect(Primitive::Bram36, 8192, 4),
    aspect(Primitive::Bram36, 16384, 2),
    aspect(Primitive::Bram36, 32768, 1),
    aspect(Primitive::Bram18, 512, 36),
    aspect(Primitive::Bram18, 1024, 18),
    aspect(Primitive::Bram18, 2048, 9),
    aspect(Primitive::Bram18, 4096, 4),
    aspect(Primitive::Bram18, 8192, 2),
    aspect(Primitive::Bram18, 16384, 1),
];

/// The only UltraRAM shape.
pub const URAM_ASPECT: Aspect = aspect(Primitive::Uram, 4096, 72);

/// One of the four on-chip buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Buffer {
    Input,
    Weight,
    Accumulator,
    Output,
}

impl Buffer {
    pub const ALL: [Buffer; 4] = [
        Buffer::Input,
        Buffer::Weight,
        Buffer::Accumulator,
        Buffer::Output,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Buffer::Input => "input",
            Buffer::Weight => "weight",
            Buffer::Accumulator => "accumulator",
            Buffer::Output => "output",
        }
    }

    fn kib(self, buffers: &BufferConfig) -> u32 {
        match self {
            Buffer::Input => buffers.input_kib,
            Buffer::Weight => buffers.weight_kib,
            Buffer::Accumulator => buffers.accumulator_kib,
            Buffer::Output => buffers.output_kib,
        }
    }
}

/// Slices of a memory's word, each `count` primitives of one aspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slice {
    pub aspect: Aspect,
    /// Slices of this aspect side by side across the word.
    pub columns: u64,
    /// Primitives in all those slices together (columns times the
    /// primitives stacked to reach the depth).
    pub count: u64,
}

/// One buffer and the primitives that hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferEstimate {
    pub buffer: Buffer,
    /// Size of one bank in KiB.
    pub kib: u32,
    /// Bits the buffer reads or writes per cycle.
    pub word_bits: u32,
    /// Words in one bank.
    pub depth: u64,
    /// 2 when double buffered, else 1.
    pub banks: u32,
    /// The primitives of one bank.
    pub slices: Vec<Slice>,
    /// Primitives of all banks.
    pub bram36: u64,
    pub bram18: u64,
    pub uram: u64,
}

impl BufferEstimate {
    /// Returns the block RAM of all banks in BRAM36 sites (a BRAM18 is half a site).
    pub fn bram36_sites(&self) -> f64 {
        self.bram36 as f64 + self.bram18 as f64 / 2.0
    }
}

/// Returns the word width of `buffer` in bits: the elements the array reads
/// or writes in one cycle.
///
/// Both dataflows feed one activation per array row per cycle (input word
/// `rows x activation bits`), load or stream one weight per column per
/// cycle (weight word `cols x weight bits`), and move one accumulator and
/// one output per column per cycle (`cols x accumulator bits`,
/// `cols x activation bits`). Weight-stationary loads a `rows x cols`
/// weight tile one array row at a time; output-stationary drains its
/// `rows x cols` accumulators one array row at a time.
pub fn word_bits(buffer: Buffer, rows: u32, cols: u32, widths: &UnitWidths) -> u32 {
    match buffer {
        Buffer::Input => rows * u32::from(widths.activation_storage_bits),
        Buffer::Weight => cols * u32::from(widths.weight_storage_bits),
        Buffer::Accumulator => cols * u32::from(widths.accumulator_bits),
        Buffer::Output => cols * u32::from(widths.activation_storage_bits),
    }
}

/// Maps every buffer of `buffers` onto primitives: UltraRAM for the largest
/// buffers first while `uram_available` blocks last (when `buffers.uram`),
/// block RAM for the rest.
pub fn estimate_buffers(
    buffers: &BufferConfig,
    word_bits_of: impl Fn(Buffer) -> u32,
    uram_available: u64,
) -> Vec<BufferEstimate> {
    let banks = if buffers.double_buffered { 2 } else { 1 };
    let mut estimates: Vec<BufferEstimate> = Buffer::ALL
        .iter()
        .map(|&buffer| {
            let kib = buffer.kib(buffers);
            let word_bits = word_bits_of(buffer).max(1);
            let depth = bank_depth(kib, word_bits);
            let slices = map_onto_bram(word_bits, depth);
            let mut estimate = BufferEstimate {
                buffer,
                kib,
                word_bits,
                depth,
                banks,
                slices,
                bram36: 0,
                bram18: 0,
                uram: 0,
            };
            count_primitives(&mut estimate);
            estimate
        })
        .collect();

    if buffers.uram && uram_available > 0 {
        place_in_uram(&mut estimates, uram_available);
    }
    estimates
}

/// Returns the words of one bank: its bits over the word width, rounded up.
fn bank_depth(kib: u32, word_bits: u32) -> u64 {
    let bits = u64::from(kib) * 1024 * 8;
    bits.div_ceil(u64::from(word_bits)).max(1)
}

/// Moves buffers to UltraRAM, the largest first, while the part's blocks
/// last. UltraRAM is otherwise unused, so every buffer moved saves block
/// RAM.
fn place_in_uram(estimates: &mut [BufferEstimate], available: u64) {
    let mut order: Vec<usize> = (0..estimates.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(estimates[index].kib));
    let mut left = available;
    for index in order {
        let estimate = &mut estimates[index];
        let columns = u64::from(estimate.word_bits).div_ceil(u64::from(URAM_ASPECT.width));
        let per_bank = columns * estimate.depth.div_ceil(URAM_ASPECT.depth);
        let needed = per_bank * u64::from(estimate.banks);
        if needed > left {
            continue;
        }
        left -= needed;
        estimate.slices = vec![Slice {
            aspect: URAM_ASPECT,
            columns,
            count: per_bank,
        }];
        count_primitives(estimate);
    }
}

fn count_primitives(estimate: &mut BufferEstimate) {
    let banks = u64::from(estimate.banks);
    let per_bank = |primitive: Primitive| -> u64 {
        estimate
            .slices
            .iter()
            .filter(|slice| slice.aspect.primitive == primitive)
            .map(|slice| slice.count)
            .sum()
    };
    estimate.bram36 = per_bank(Primitive::Bram36) * banks;
    estimate.bram18 = per_bank(Primitive::Bram18) * banks;
    estimate.uram = per_bank(Primitive::Uram) * banks;
}

/// Maps a memory of `depth` words of `word_bits` bits onto block RAM at the
/// least cost in BRAM18 halves.
///
/// The word is cut into slices across its width, each slice one aspect
/// ratio from [`BRAM_ASPECTS`] stacked `ceil(depth / aspect depth)` deep.
/// A dynamic program over the word width finds the cheapest set of slices;
/// ties go to fewer primitives, then to the order of [`BRAM_ASPECTS`].
pub fn map_onto_bram(word_bits: u32, depth: u64) -> Vec<Slice> {
    let width = word_bits as usize;
    // cheapest[w] = (halves, primitives, aspect index of the last slice)
    // covering w bits of the word.
    let mut cheapest: Vec<(u64, u64, usize)> = vec![(0, 0, usize::MAX); width + 1];
    for covered in 1..=width {
        let mut best: Option<(u64, u64, usize)> = None;
        for (index, aspect) in BRAM_ASPECTS.iter().enumerate() {
            let rest = covered.saturating_sub(aspect.width as usize);
            let stacked = depth.div_ceil(aspect.depth);
            let halves = stacked * primitive_halves(aspect.primitive);
            let (rest_halves, rest_count, _) = cheapest[rest];
            let candidate = (rest_halves + halves, rest_count + stacked, index);
            let better = match best {
                None => true,
                Some((halves, count, _)) => (candidate.0, candidate.1) < (halves, count),
            };
            if better {
                best = Some(candidate);
            }
        }
        cheapest[covered] = best.unwrap_or((0, 0, 0));
    }

    let mut slices: Vec<Slice> = Vec::new();
    let mut covered = width;
    while covered > 0 {
        let index = cheapest[covered].2;
        let aspect = BRAM_ASPECTS[index];
        let stacked = depth.div_ceil(aspect.depth);
        match slices.iter_mut().find(|slice| slice.aspect == aspect) {
            Some(slice) => {
                slice.columns += 1;
                slice.count += stacked;
            }
            None => slices.push(Slice {
                aspect,
                columns: 1,
                count: stacked,
            }),
        }
        covered = covered.saturating_sub(aspect.width as usize);
    }
    slices
}

fn primitive_halves(primitive: Primitive) -> u64 {
    match primitive {
        Primitive::Bram36 => 2,
        Primitive::Bram18 => 1,
        // UltraRAM is never chosen by the block RAM search.
        Primitive::Uram => 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(slices: &[Slice]) -> u64 {
        slices
            .iter()
            .map(|slice| slice.count * primitive_halves(slice.aspect.primitive))
            .sum()
    }

    #[test]
    fn narrow_deep_memory_uses_full_depth_aspect() {
        // 64 KiB as 8-bit words fills whole primitives in several ways
        // (8 columns of 32K x 1 stacked twice, 16 of 4K x 9 stacked, ...),
        // all 16 BRAM36.
        let slices = map_onto_bram(8, 65_536);
        assert_eq!(halves(&slices), 32);
    }

    #[test]
    fn wide_shallow_memory_uses_72_bit_aspect() {
        // 512 x 1024 bits: 15 slices of 512 x 72 (1080 bits) would be 30
        // halves; 14 of 512 x 72 and one BRAM18 of 512 x 36 cover 1044 bits
        // in 29 halves.
        let slices = map_onto_bram(1024, 512);
        assert_eq!(halves(&slices), 29);
        let covered: u64 = slices
            .iter()
            .map(|slice| slice.columns * u64::from(slice.aspect.width))
            .sum();
        assert!(covered >= 1024, "{slices:?}");
    }

    #[test]
    fn small_memory_takes_one_bram18() {
        let slices = map_onto_bram(16, 1000);
        assert_eq!(
            slices,
            vec![Slice {
                aspect: aspect(Primitive::Bram18, 1024, 18),
                columns: 1,
                count: 1
            }]
        );
    }

    #[test]
    fn double_buffering_doubles_every_primitive() {
        let single = BufferConfig {
            double_buffered: false,
            ..BufferConfig::default()
        };
        let double = BufferConfig {
            double_buffered: true,
            ..single
        };
        let words = |_buffer: Buffer| 128;
        let one = estimate_buffers(&single, words, 0);
        let two = estimate_buffers(&double, words, 0);
        for (one, two) in one.iter().zip(&two) {
            assert_eq!(two.bram36, 2 * one.bram36, "{:?}", one.buffer);
            assert_eq!(two.bram18, 2 * one.bram18, "{:?}", one.buffer);
        }
    }

    #[test]
    fn uram_takes_largest_buffers_first() {
        let buffers = BufferConfig {
            input_kib: 256,
            weight_kib: 512,
            accumulator_kib: 32,
            output_kib: 32,
            double_buffered: false,
            uram: true,
        };
        // 512 KiB as 72-bit words: 58255 deep, 15 URAMs; 256 KiB: 8.
        let estimates = estimate_buffers(&buffers, |_| 72, 16);
        let weight = &estimates[1];
        assert_eq!(weight.buffer, Buffer::Weight);
        assert_eq!(weight.uram, 15);
        assert_eq!(weight.bram36 + weight.bram18, 0);
        let input = &estimates[0];
        assert_eq!(input.uram, 0, "only 1 URAM left after the weight buffer");
        assert!(input.bram36 > 0);
    }
}
