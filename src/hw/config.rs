//! The validated sections of a hardware description other than the
//! datapath: device, MAC array, on-chip buffers and DRAM port.
//!
//! Limitation: the types carry values only. Their ranges are enforced when a
//! description is read, so a value changed by hand afterwards is checked
//! again only by [`super::HwConfig::validate`].

use super::devices::{CatalogueEntry, Device, CATALOGUE};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The FPGA part and the accelerator clock.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    pub part: Part,
    /// Accelerator clock in MHz, above 0 and at most 1000.
    pub clock_mhz: f64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            part: Part::default(),
            clock_mhz: 200.0,
        }
    }
}

/// A part from the built-in catalogue or one described inline.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Catalogue(&'static CatalogueEntry),
    Inline(Device),
}

impl Part {
    pub fn device(&self) -> &Device {
        match self {
            Part::Catalogue(entry) => &entry.device,
            Part::Inline(device) => device,
        }
    }
}

impl Default for Part {
    /// Returns the xc7z020 (a unit test pins its index).
    fn default() -> Self {
        Part::Catalogue(&CATALOGUE[1])
    }
}

/// Mapping of a convolution's GEMM `M x K x N` onto the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataflow {
    /// K on rows, N on columns, the M output pixels stream through.
    WeightStationary,
    /// M and N on the array, K streams.
    OutputStationary,
}

impl Dataflow {
    /// Returns the name as written in a hardware description.
    pub fn name(self) -> &'static str {
        match self {
            Dataflow::WeightStationary => "weight-stationary",
            Dataflow::OutputStationary => "output-stationary",
        }
    }
}

impl fmt::Display for Dataflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unit that runs depthwise convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepthwiseUnit {
    /// The MAC array, one useful column per channel group.
    Array,
    /// A separate vector unit.
    Vector,
}

/// The MAC array of `rows x cols` processing elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayConfig {
    /// Processing-element rows, 1..=256.
    pub rows: u32,
    /// Processing-element columns, 1..=256.
    pub cols: u32,
    pub dataflow: Dataflow,
    pub depthwise: DepthwiseUnit,
    /// Two int8 products per DSP48E2 where the dataflow shares an operand
    /// between neighbouring processing elements.
    pub dsp_packing: bool,
    /// Products whose operands are both at most this wide are built from
    /// LUTs instead of DSPs; 0 means never. At most 16.
    pub lut_multiplier_max_bits: u8,
}

impl ArrayConfig {
    pub const MAX_DIMENSION: u32 = 256;
}

impl Default for ArrayConfig {
    fn default() -> Self {
        ArrayConfig {
            rows: 16,
            cols: 16,
            dataflow: Dataflow::WeightStationary,
            depthwise: DepthwiseUnit::Array,
            dsp_packing: false,
            lut_multiplier_max_bits: 0,
        }
    }
}

/// On-chip buffers. Each size is one bank; double buffering doubles the
/// memory of every buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferConfig {
    pub input_kib: u32,
    pub weight_kib: u32,
    pub accumulator_kib: u32,
    pub output_kib: u32,
    pub double_buffered: bool,
    /// Buffers may be mapped to UltraRAM; no effect on a part without it.
    pub uram: bool,
}

impl BufferConfig {
    /// Bytes in one bank of the input buffer.
    pub fn input_bytes(&self) -> u64 {
        kib_to_bytes(self.input_kib)
    }

    /// Bytes in one bank of the weight buffer.
    pub fn weight_bytes(&self) -> u64 {
        kib_to_bytes(self.weight_kib)
    }

    /// Bytes in one bank of the accumulator buffer.
    pub fn accumulator_bytes(&self) -> u64 {
        kib_to_bytes(self.accumulator_kib)
    }

    /// Bytes in one bank of the output buffer.
    pub fn output_bytes(&self) -> u64 {
        kib_to_bytes(self.output_kib)
    }

    /// Banks per buffer: 2 when double buffered, else 1.
    pub fn banks(&self) -> u64 {
        if self.double_buffered {
            2
        } else {
            1
        }
    }

    /// On-chip bytes of all four buffers, every bank counted.
    pub fn total_bytes(&self) -> u64 {
        let per_bank = self.input_bytes()
            + self.weight_bytes()
            + self.accumulator_bytes()
            + self.output_bytes();
        per_bank * self.banks()
    }
}

/// Widening to u64 cannot overflow: `u32::MAX * 1024 < 2^42`, and four
/// double-buffered such buffers stay below `2^45`.
fn kib_to_bytes(kib: u32) -> u64 {
    u64::from(kib) * 1024
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            input_kib: 64,
            weight_kib: 64,
            accumulator_kib: 32,
            output_kib: 32,
            double_buffered: true,
            uram: false,
        }
    }
}

/// The DRAM port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DramConfig {
    /// Sustained transfer rate in bytes per accelerator clock cycle, > 0.
    pub bytes_per_cycle: u32,
    /// Cycles from a burst request to its first data beat.
    pub latency_cycles: u32,
}

impl Default for DramConfig {
    fn default() -> Self {
        DramConfig {
            bytes_per_cycle: 8,
            latency_cycles: 40,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_part_is_in_catalogue() {
        assert_eq!(Part::default().device().name, "xc7z020");
    }

    #[test]
    fn buffer_bytes_count_every_bank() {
        let buffers = BufferConfig::default();
        assert_eq!(buffers.input_bytes(), 65_536);
        assert_eq!(buffers.total_bytes(), 2 * (64 + 64 + 32 + 32) * 1024);
        let single = BufferConfig {
            double_buffered: false,
            ..buffers
        };
        assert_eq!(single.total_bytes(), (64 + 64 + 32 + 32) * 1024);
    }

    #[test]
    fn buffer_bytes_at_largest_sizes() {
        let buffers = BufferConfig {
            input_kib: u32::MAX,
            weight_kib: u32::MAX,
            accumulator_kib: u32::MAX,
            output_kib: u32::MAX,
            double_buffered: true,
            uram: false,
        };
        assert_eq!(buffers.total_bytes(), 8 * u64::from(u32::MAX) * 1024);
    }
}
