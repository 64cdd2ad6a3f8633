//! Validation of a parsed hardware description: range checks on every
//! field, requantiser parameters against the mode, and a lower bound on
//! each buffer, turning the file's shape into a [`HwConfig`].
//!
//! Limitation: the buffer check is a bound for the smallest possible tile,
//! sized from the widest formats any layer may use. Whether a real layer
//! tiles into the buffers is for the timing model to decide.

use super::config::{ArrayConfig, BufferConfig, Dataflow, DeviceConfig, DramConfig, Part};
use super::datapath::{AccumulatorConfig, DatapathConfig, Requant, RequantKind};
use super::devices::{find_part, known_parts, Device};
use super::error::HwError;
use super::layers::LayerOverride;
use super::raw::{
    RawAccumulator, RawArray, RawBuffers, RawDatapath, RawDevice, RawDram, RawHwConfig,
    RawInlinePart, RawLayer, RawPart, RawRequant,
};
use super::HwConfig;
use crate::numeric::{IntFormat, Overflow, Rounding};
use std::borrow::Cow;

/// Highest accelerator clock accepted, in MHz. No 7-series or UltraScale+
/// fabric closes timing near it, so a larger figure is a typing error
/// (Hz or kHz for MHz).
const MAX_CLOCK_MHZ: f64 = 1000.0;
/// Slowest clock accepted, in MHz: slower values are almost always a clock
/// written in GHz.
const MIN_CLOCK_MHZ: f64 = 1.0;
/// Widest DRAM port accepted, in bytes per cycle (an HBM stack at the
/// accelerator clock is a few hundred).
const MAX_DRAM_BYTES_PER_CYCLE: i64 = 4096;
/// Longest DRAM latency accepted, in cycles.
const MAX_DRAM_LATENCY_CYCLES: i64 = 1_000_000;

/// Validates `raw`, read from `origin`, into a [`HwConfig`].
pub(crate) fn validate(raw: RawHwConfig, origin: &str) -> Result<HwConfig, HwError> {
    let checker = Checker { origin };

    let device = checker.device(raw.device.unwrap_or_default())?;
    let array = checker.array(raw.array.unwrap_or_default())?;
    let datapath = checker.datapath(raw.datapath.unwrap_or_default())?;
    let buffers = checker.buffers(raw.buffers.unwrap_or_default())?;
    let dram = checker.dram(raw.dram.unwrap_or_default())?;
    let layers = raw
        .layers
        .into_iter()
        .enumerate()
        .map(|(position, layer)| checker.layer(position, layer))
        .collect::<Result<Vec<_>, _>>()?;

    let config = HwConfig {
        origin: origin.to_string(),
        device,
        array,
        datapath,
        buffers,
        dram,
        layers,
    };
    checker.buffers_hold_one_tile(&config)?;
    Ok(config)
}

struct Checker<'a> {
    origin: &'a str,
}

/// The datapath keys shared by `[datapath]` and `[[layer]]`, validated but
/// not yet merged with inherited values.
struct DatapathFields {
    accumulator_bits: Option<u8>,
    accumulator_overflow: Option<Overflow>,
    requant_mode: Option<RequantKind>,
    multiplier_bits: Option<u8>,
    rounding: Option<Rounding>,
    seed: Option<u32>,
}

impl Checker<'_> {
    fn out_of_range(&self, key: &str, value: impl ToString, allowed: impl Into<String>) -> HwError {
        HwError::OutOfRange {
            origin: self.origin.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// Checks that `value` lies in `min..=max` and converts it to `T`.
    fn integer<T: TryFrom<i64>>(
        &self,
        key: &str,
        value: i64,
        min: i64,
        max: i64,
    ) -> Result<T, HwError> {
        if !(min..=max).contains(&value) {
            return Err(self.out_of_range(key, value, format!("an integer in {min}..={max}")));
        }
        T::try_from(value)
            .map_err(|_| self.out_of_range(key, value, format!("an integer in {min}..={max}")))
    }

    /// Checks a LUT or flip-flop count. Unlike DSP slices, block RAM and
    /// UltraRAM, which a small part may lack (0), every FPGA has LUTs and
    /// flip-flops, so 0 is a mistake.
    fn logic_capacity(&self, key: &str, value: i64) -> Result<u32, HwError> {
        let max = i64::from(u32::MAX);
        if !(1..=max).contains(&value) {
            return Err(self.out_of_range(
                key,
                value,
                format!(
                    "an integer in 1..={max}, because every FPGA has LUTs and flip-flops \
                     (dsp, bram36 and uram may be 0 for a part without them)"
                ),
            ));
        }
        self.integer(key, value, 1, max)
    }

    fn optional_integer<T: TryFrom<i64>>(
        &self,
        key: &str,
        value: Option<i64>,
        min: i64,
        max: i64,
    ) -> Result<Option<T>, HwError> {
        value
            .map(|value| self.integer(key, value, min, max))
            .transpose()
    }

    fn u32_at_least(
        &self,
        key: &str,
        value: Option<i64>,
        min: i64,
        default: u32,
    ) -> Result<u32, HwError> {
        let checked = self.optional_integer(key, value, min, u32::MAX.into())?;
        Ok(checked.unwrap_or(default))
    }

    fn device(&self, raw: RawDevice) -> Result<DeviceConfig, HwError> {
        let defaults = DeviceConfig::default();
        let part = match raw.part {
            None => defaults.part,
            Some(RawPart::Name(name)) => match find_part(&name) {
                Some(entry) => Part::Catalogue(entry),
                None => {
                    return Err(HwError::UnknownPart {
                        origin: self.origin.to_string(),
                        key: "device.part".to_string(),
                        name,
                        known: known_parts(),
                    })
                }
            },
            Some(RawPart::Inline(inline)) => Part::Inline(self.inline_part(inline)?),
        };

        let clock_mhz = raw.clock_mhz.unwrap_or(defaults.clock_mhz);
        if !(clock_mhz.is_finite() && (MIN_CLOCK_MHZ..=MAX_CLOCK_MHZ).contains(&clock_mhz)) {
            let allowed = format!("a frequency in MHz from {MIN_CLOCK_MHZ} to {MAX_CLOCK_MHZ}");
            return Err(self.out_of_range("device.clock_mhz", short_number(clock_mhz), allowed));
        }
        Ok(DeviceConfig { part, clock_mhz })
    }

    fn inline_part(&self, raw: RawInlinePart) -> Result<Device, HwError> {
        if raw.name.trim().is_empty() {
            return Err(self.out_of_range(
                "device.part.name",
                format!("{:?}", raw.name),
                "a non-empty part name",
            ));
        }
        let max = i64::from(u32::MAX);
        Ok(Device {
            name: Cow::Owned(raw.name),
            dsp: self.integer("device.part.dsp", raw.dsp, 0, max)?,
            dsp_type: raw.dsp_type,
            bram36: self.integer("device.part.bram36", raw.bram36, 0, max)?,
            uram: self.integer("device.part.uram", raw.uram.unwrap_or(0), 0, max)?,
            lut: self.logic_capacity("device.part.lut", raw.lut)?,
            ff: self.logic_capacity("device.part.ff", raw.ff)?,
        })
    }

    fn array(&self, raw: RawArray) -> Result<ArrayConfig, HwError> {
        let defaults = ArrayConfig::default();
        let max_dimension = i64::from(ArrayConfig::MAX_DIMENSION);
        let max_lut_bits = i64::from(IntFormat::MAX_BITS);
        Ok(ArrayConfig {
            rows: self
                .optional_integer("array.rows", raw.rows, 1, max_dimension)?
                .unwrap_or(defaults.rows),
            cols: self
                .optional_integer("array.cols", raw.cols, 1, max_dimension)?
                .unwrap_or(defaults.cols),
            dataflow: raw.dataflow.unwrap_or(defaults.dataflow),
            depthwise: raw.depthwise.unwrap_or(defaults.depthwise),
            dsp_packing: raw.dsp_packing.unwrap_or(defaults.dsp_packing),
            lut_multiplier_max_bits: self
                .optional_integer(
                    "array.lut_multiplier_max_bits",
                    raw.lut_multiplier_max_bits,
                    0,
                    max_lut_bits,
                )?
                .unwrap_or(defaults.lut_multiplier_max_bits),
        })
    }

    /// Range-checks the datapath keys of one table (`prefix` is `datapath`
    /// or `layer[2]`). Also checks the requantiser parameters against the
    /// mode the table gives, or else against `default_mode`. That is the
    /// default mode for `[datapath]` and `None` for a `[[layer]]` entry,
    /// because an entry's inherited mode is not known yet.
    fn datapath_fields(
        &self,
        prefix: &str,
        accumulator: Option<RawAccumulator>,
        requant: Option<RawRequant>,
        seed: Option<i64>,
        default_mode: Option<RequantKind>,
    ) -> Result<DatapathFields, HwError> {
        let accumulator = accumulator.unwrap_or_default();
        let requant = requant.unwrap_or_default();
        let accumulator_bits = self.optional_integer(
            &format!("{prefix}.accumulator.bits"),
            accumulator.bits,
            AccumulatorConfig::MIN_BITS.into(),
            AccumulatorConfig::MAX_BITS.into(),
        )?;
        let multiplier_bits: Option<u8> = self.optional_integer(
            &format!("{prefix}.requant.multiplier_bits"),
            requant.multiplier_bits,
            Requant::MIN_MULTIPLIER_BITS.into(),
            Requant::MAX_MULTIPLIER_BITS.into(),
        )?;
        let seed = self.optional_integer(&format!("{prefix}.seed"), seed, 1, u32::MAX.into())?;

        let mode_source = match (requant.mode, default_mode) {
            (Some(mode), _) => Some((mode, format!("set by {prefix}.requant.mode"))),
            (None, Some(mode)) => Some((
                mode,
                format!("the default, as {prefix}.requant.mode is not given"),
            )),
            (None, None) => None,
        };
        if let Some((mode, source)) = mode_source {
            if let (Some(bits), true) = (multiplier_bits, mode != RequantKind::Fixed) {
                return Err(self.requant_conflict(
                    prefix,
                    "multiplier_bits",
                    bits.to_string(),
                    mode,
                    source,
                ));
            }
            if let (Some(rounding), true) = (requant.rounding, mode == RequantKind::Tflite) {
                let value = format!("\"{}\"", rounding.name());
                return Err(self.requant_conflict(prefix, "rounding", value, mode, source));
            }
        }

        Ok(DatapathFields {
            accumulator_bits,
            accumulator_overflow: accumulator.overflow.map(Overflow::from),
            requant_mode: requant.mode,
            multiplier_bits,
            rounding: requant.rounding.map(Rounding::from),
            seed,
        })
    }

    fn requant_conflict(
        &self,
        prefix: &str,
        field: &str,
        value: String,
        mode: RequantKind,
        mode_source: String,
    ) -> HwError {
        HwError::RequantConflict {
            origin: self.origin.to_string(),
            key: format!("{prefix}.requant.{field}"),
            value,
            mode,
            mode_source,
        }
    }

    fn datapath(&self, raw: RawDatapath) -> Result<DatapathConfig, HwError> {
        let defaults = DatapathConfig::default();
        let fields = self.datapath_fields(
            "datapath",
            raw.accumulator,
            raw.requant,
            raw.seed,
            Some(defaults.requant.kind()),
        )?;

        let requant = Requant::from_parts(
            fields.requant_mode.unwrap_or(defaults.requant.kind()),
            fields
                .multiplier_bits
                .unwrap_or(Requant::DEFAULT_MULTIPLIER_BITS),
            fields.rounding.unwrap_or(Requant::DEFAULT_ROUNDING),
        );
        Ok(DatapathConfig {
            activation: raw.activation.unwrap_or(defaults.activation),
            weight: raw.weight.unwrap_or(defaults.weight),
            accumulator: AccumulatorConfig {
                bits: fields.accumulator_bits.unwrap_or(defaults.accumulator.bits),
                overflow: fields
                    .accumulator_overflow
                    .unwrap_or(defaults.accumulator.overflow),
            },
            bias: raw.bias.unwrap_or(defaults.bias),
            zero_point: raw.zero_point.unwrap_or(defaults.zero_point),
            requant,
            seed: fields.seed.unwrap_or(defaults.seed),
        })
    }

    /// Validates a `[[layer]]` entry. Requantiser parameters are checked here only
    /// against a mode the entry sets itself, because the mode it inherits
    /// depends on earlier entries for the same layer;
    /// [`HwConfig::check_layers`] checks the rest per layer.
    fn layer(&self, position: usize, raw: RawLayer) -> Result<LayerOverride, HwError> {
        let prefix = format!("layer[{position}]");
        let fields = self.datapath_fields(&prefix, raw.accumulator, raw.requant, raw.seed, None)?;
        Ok(LayerOverride {
            selector: raw.selector,
            activation: raw.activation,
            weight: raw.weight,
            accumulator_bits: fields.accumulator_bits,
            accumulator_overflow: fields.accumulator_overflow,
            bias: raw.bias,
            zero_point: raw.zero_point,
            requant_mode: fields.requant_mode,
            multiplier_bits: fields.multiplier_bits,
            rounding: fields.rounding,
            seed: fields.seed,
        })
    }

    fn buffers(&self, raw: RawBuffers) -> Result<BufferConfig, HwError> {
        let defaults = BufferConfig::default();
        Ok(BufferConfig {
            input_kib: self.u32_at_least(
                "buffers.input_kib",
                raw.input_kib,
                1,
                defaults.input_kib,
            )?,
            weight_kib: self.u32_at_least(
                "buffers.weight_kib",
                raw.weight_kib,
                1,
                defaults.weight_kib,
            )?,
            accumulator_kib: self.u32_at_least(
                "buffers.accumulator_kib",
                raw.accumulator_kib,
                1,
                defaults.accumulator_kib,
            )?,
            output_kib: self.u32_at_least(
                "buffers.output_kib",
                raw.output_kib,
                1,
                defaults.output_kib,
            )?,
            double_buffered: raw.double_buffered.unwrap_or(defaults.double_buffered),
            uram: raw.uram.unwrap_or(defaults.uram),
        })
    }

    fn dram(&self, raw: RawDram) -> Result<DramConfig, HwError> {
        let defaults = DramConfig::default();
        Ok(DramConfig {
            bytes_per_cycle: self
                .optional_integer(
                    "dram.bytes_per_cycle",
                    raw.bytes_per_cycle,
                    1,
                    MAX_DRAM_BYTES_PER_CYCLE,
                )?
                .unwrap_or(defaults.bytes_per_cycle),
            latency_cycles: self
                .optional_integer(
                    "dram.latency_cycles",
                    raw.latency_cycles,
                    0,
                    MAX_DRAM_LATENCY_CYCLES,
                )?
                .unwrap_or(defaults.latency_cycles),
        })
    }

    /// Rejects a buffer that cannot hold the operands of one array pass.
    ///
    /// Weight-stationary: the array keeps a `rows x cols` weight tile, one
    /// input vector of `rows` activations enters per cycle and `cols`
    /// accumulators and outputs leave. Output-stationary: one step reads
    /// `rows` activations and `cols` weights, and the array keeps
    /// `rows x cols` accumulators and outputs. Widths are the widest any
    /// layer may use.
    fn buffers_hold_one_tile(&self, config: &HwConfig) -> Result<(), HwError> {
        let activation_bits = widest(
            config,
            |datapath| datapath.activation.bits(),
            |entry| entry.activation.map(IntFormat::bits),
        );
        let weight_bits = widest(
            config,
            |datapath| datapath.weight.bits(),
            |entry| entry.weight.map(IntFormat::bits),
        );
        let accumulator_bits = widest(
            config,
            |datapath| datapath.accumulator.bits,
            |entry| entry.accumulator_bits,
        );

        let rows = u64::from(config.array.rows);
        let cols = u64::from(config.array.cols);
        let both = self.product("rows x cols", &[rows, cols])?;
        let dataflow = config.array.dataflow;
        let (weights, inputs, accumulators, outputs) = match dataflow {
            Dataflow::WeightStationary => (both, rows, cols, cols),
            Dataflow::OutputStationary => (cols, rows, both, both),
        };

        let buffers = &config.buffers;
        let checks = [
            (
                "buffers.weight_kib",
                buffers.weight_kib,
                weights,
                weight_bits,
                "weights",
            ),
            (
                "buffers.input_kib",
                buffers.input_kib,
                inputs,
                activation_bits,
                "activations",
            ),
            (
                "buffers.accumulator_kib",
                buffers.accumulator_kib,
                accumulators,
                accumulator_bits,
                "accumulators",
            ),
            (
                "buffers.output_kib",
                buffers.output_kib,
                outputs,
                activation_bits,
                "outputs",
            ),
        ];
        for (key, kib, elements, bits, what) in checks {
            let needed_bits = self.product(key, &[elements, u64::from(bits)])?;
            let needed_bytes = needed_bits.div_ceil(8);
            if needed_bytes > u64::from(kib) * 1024 {
                return Err(HwError::BufferTooSmall {
                    origin: self.origin.to_string(),
                    key: key.to_string(),
                    kib,
                    min_kib: needed_bytes.div_ceil(1024),
                    tile: format!(
                        "{elements} {what} of {bits} bits ({dataflow}, {rows} x {cols} array)"
                    ),
                    needed_bytes,
                });
            }
        }
        Ok(())
    }

    fn product(&self, what: &str, factors: &[u64]) -> Result<u64, HwError> {
        factors
            .iter()
            .try_fold(1_u64, |product, &factor| product.checked_mul(factor))
            .ok_or_else(|| HwError::ArithmeticOverflow {
                origin: self.origin.to_string(),
                what: format!("tile size for {what}"),
            })
    }
}

/// Returns the largest value of a width over `[datapath]` and every `[[layer]]`
/// entry that sets it.
fn widest(
    config: &HwConfig,
    base: impl Fn(&DatapathConfig) -> u8,
    layer: impl Fn(&LayerOverride) -> Option<u8>,
) -> u8 {
    config
        .layers
        .iter()
        .filter_map(layer)
        .fold(base(&config.datapath), u8::max)
}
/// Formats a float for a message: as Rust prints it when that is short,
/// in scientific form (`1e300`) when it would run to many digits.
fn short_number(value: f64) -> String {
    let plain = value.to_string();
    if plain.len() <= 12 {
        plain
    } else {
        format!("{value:e}")
    }
}
