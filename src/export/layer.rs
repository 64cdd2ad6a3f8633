//! The memory images of one MAC layer: weights, streamed activations,
//! bias, requantisation parameters and (optionally) accumulators, laid out
//! as an array of `rows x cols` consumes them. Only the activation image
//! depends on the dataflow: a weight-stationary array takes one word of
//! `rows` K terms of a pixel per cycle, an output-stationary one a word of
//! one K term of `rows` pixels. The weight image serves both, because its
//! words run over K (padded to whole folds) with `cols` channels each. A
//! depthwise layer on the vector unit (`array.depthwise = "vector"`) is
//! written as one group of all its output channels, `cols` lanes a word,
//! and its activation word contains each lane's own input channel.
//!
//! Every value comes from the executor's prepared layer ([`MacImage`]) and
//! its run, and the im2col order from the timing model's lowering. The
//! `docs/formats.md` table gives each file's word index. Limitation: the
//! activation image keeps the whole im2col matrix, `groups * F * M` words,
//! in memory while it is written.

use super::mem::{fits, ImageSpec, MemWriter};
use super::{ExportError, FileEntry, Role, TensorLayout};
use crate::exec::{LayerArithmetic, MacImage, MacKind, RequantMode, TensorValue, ZeroPointMode};
use crate::hw::{ArrayConfig, Dataflow, DepthwiseUnit};
use crate::model::Graph;
use crate::numeric::{Overflow, Signedness};
use std::io::Write;

/// The unit that runs a MAC layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacUnit {
    /// The `rows x cols` array, under its dataflow.
    Array(Dataflow),
    /// The depthwise vector unit of `cols` lanes, one output channel each.
    Vector,
}

/// A MAC layer's GEMM dimensions on the unit that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerGeometry {
    pub rows: usize,
    pub cols: usize,
    pub unit: MacUnit,
    pub groups: usize,
    /// Output pixels.
    pub m: usize,
    /// K per group.
    pub k: usize,
    /// N per group.
    pub n: usize,
    /// Folds, `ceil(k / rows)`.
    pub folds: usize,
    /// Column tiles per group, `ceil(n / cols)`.
    pub tiles: usize,
    /// Row tiles of pixels, `ceil(m / rows)`: the output-stationary passes
    /// per column tile.
    pub row_tiles: usize,
}

impl LayerGeometry {
    /// Returns the geometry of a layer with `groups` GEMMs of `m x k x n`
    /// on `array`. A depthwise layer on the vector unit becomes one group
    /// of `groups * n` channels, because each lane has its own input channel.
    pub fn new(
        array: &ArrayConfig,
        kind: MacKind,
        groups: usize,
        m: usize,
        k: usize,
        n: usize,
    ) -> Self {
        let (rows, cols) = (array.rows as usize, array.cols as usize);
        let vector = kind == MacKind::DepthwiseConv2d && array.depthwise == DepthwiseUnit::Vector;
        let (unit, groups, n) = if vector {
            (MacUnit::Vector, 1, groups * n)
        } else {
            (MacUnit::Array(array.dataflow), groups, n)
        };
        LayerGeometry {
            rows,
            cols,
            unit,
            groups,
            m,
            k,
            n,
            folds: k.div_ceil(rows),
            tiles: n.div_ceil(cols),
            row_tiles: m.div_ceil(rows),
        }
    }
}

/// The widths the datapath gives a layer's operands, for its files and for
/// `layers.mem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperandWidths {
    pub activation_bits: u32,
    pub activation_signed: bool,
    pub weight_bits: u32,
    pub weight_signed: bool,
    pub accumulator_bits: u32,
    /// Multiplier bits of a requant element (0 for the shift mode).
    pub multiplier_bits: u32,
}

impl OperandWidths {
    /// Derives the widths from the layer's prepared arithmetic.
    pub fn of(arithmetic: &LayerArithmetic) -> OperandWidths {
        let datapath = &arithmetic.datapath;
        let activation = datapath.activation;
        let (activation_bits, activation_signed) = match datapath.zero_point {
            ZeroPointMode::Subtract => (u32::from(activation.bits()) + 1, true),
            ZeroPointMode::Fold => (u32::from(activation.bits()), activation.is_signed()),
        };
        OperandWidths {
            activation_bits,
            activation_signed,
            weight_bits: u32::from(datapath.weight.bits()),
            weight_signed: datapath.weight.is_signed(),
            accumulator_bits: arithmetic.accumulator_bits,
            multiplier_bits: multiplier_bits(datapath.requant),
        }
    }
}

/// Returns the multiplier width of a requant element for `mode`.
pub fn multiplier_bits(mode: RequantMode) -> u32 {
    match mode {
        RequantMode::Tflite | RequantMode::Single { .. } => 32,
        RequantMode::Fixed {
            multiplier_bits, ..
        } => multiplier_bits,
        RequantMode::Shift { .. } => 0,
    }
}

/// Width of the shift field of a requant element.
pub const SHIFT_BITS: u32 = 8;

/// One MAC layer ready to be written.
pub struct MacLayer<'a> {
    pub index: usize,
    pub image: &'a MacImage,
    pub arithmetic: &'a LayerArithmetic,
    pub geometry: LayerGeometry,
    pub widths: OperandWidths,
    /// The im2col operands, `[group][m][k]`.
    pub activations: Vec<i64>,
    /// The captured accumulators, indexed like the output tensor.
    pub accumulators: Option<&'a [i64]>,
}

impl<'a> MacLayer<'a> {
    /// Lowers the layer's input value to the streamed operand and checks
    /// that the geometry agrees with the executor's image.
    pub fn new(
        graph: &Graph,
        index: usize,
        image: &'a MacImage,
        arithmetic: &'a LayerArithmetic,
        array: &ArrayConfig,
        input: &TensorValue,
        accumulators: Option<&'a [i64]>,
    ) -> Result<MacLayer<'a>, ExportError> {
        let op = graph.ops.get(index).map_or("?", |op| op.kind.name());
        let invalid = |message: String| ExportError::Layer {
            index,
            op: op.to_string(),
            message,
        };
        let operands = image.operands(input).ok_or_else(|| {
            invalid(format!(
                "input has type {}; expected int8 or int16",
                input.dtype()
            ))
        })?;
        let lowered = crate::timing::stepped::im2col(graph, index, &operands, image.pad_value)
            .map_err(|error| invalid(error.to_string()))?;
        if lowered.groups != image.groups || lowered.k != image.terms {
            return Err(invalid(format!(
                "the lowering gives {} groups of K = {}, the executor {} of K = {}",
                lowered.groups, lowered.k, image.groups, image.terms
            )));
        }
        let channels = image.groups * image.group_outputs;
        if image.weights.len() != channels * image.terms
            || image.starts.len() != channels
            || image.post_biases.len() != channels
            || image.requant.len() != channels
        {
            return Err(invalid(format!(
                "the prepared layer does not hold {channels} channels of {} weights",
                image.terms
            )));
        }
        if let Some(values) = accumulators {
            if values.len() != lowered.m * channels {
                return Err(invalid(format!(
                    "{} accumulators captured; expected {} pixels of {channels} channels",
                    values.len(),
                    lowered.m
                )));
            }
        }
        let geometry = LayerGeometry::new(
            array,
            image.kind,
            image.groups,
            lowered.m,
            image.terms,
            image.group_outputs,
        );
        Ok(MacLayer {
            index,
            image,
            arithmetic,
            geometry,
            widths: OperandWidths::of(arithmetic),
            activations: lowered.a,
            accumulators,
        })
    }

    fn file_name(&self, suffix: &str) -> String {
        format!("layer{:03}_{suffix}.mem", self.index)
    }

    fn spec(&self, suffix: &str, role: Role, element_bits: u32, per_word: usize) -> ImageSpec {
        let g = &self.geometry;
        let (depth, order) = match role {
            Role::Weights => (
                g.groups * g.tiles * g.folds * g.rows,
                "word = ((g*T + t)*F + f)*R + r; element j = weight of K term f*R + r, channel g*N + t*C + j",
            ),
            Role::Activations => match g.unit {
                MacUnit::Array(Dataflow::WeightStationary) => (
                    g.groups * g.folds * g.m,
                    "word = (g*F + f)*M + m; element r = operand of K term f*R + r of pixel m in group g",
                ),
                MacUnit::Array(Dataflow::OutputStationary) => (
                    g.groups * g.row_tiles * g.k,
                    "word = (g*P + p)*K + k; element r = operand of K term k of pixel p*R + r in group g",
                ),
                MacUnit::Vector => (
                    g.tiles * g.m * g.k,
                    "word = (t*M + m)*K + k; element j = operand of K term k of pixel m for channel t*C + j (its input channel)",
                ),
            },
            Role::Accumulators => (
                g.groups * g.tiles * g.m,
                "word = (g*T + t)*M + m; element j = accumulator of channel g*N + t*C + j, pixel m",
            ),
            _ => (
                g.groups * g.tiles,
                "word = g*T + t; element j = channel g*N + t*C + j",
            ),
        };
        let (element_order, tensor) = self.describe(order, role);
        ImageSpec {
            name: self.file_name(suffix),
            role,
            layer: Some(self.index),
            element_bits,
            elements_per_word: per_word as u32,
            depth: depth as u64,
            signed: true,
            element_order,
            tensor,
        }
    }

    fn describe(&self, order: &str, role: Role) -> (String, Option<TensorLayout>) {
        let g = &self.geometry;
        // Only the output-stationary activation image is indexed by row tile.
        let row_tiles = match (g.unit, role) {
            (MacUnit::Array(Dataflow::OutputStationary), Role::Activations) => {
                format!(", P = {}", g.row_tiles)
            }
            _ => String::new(),
        };
        let order = format!(
            "{order} (R = {}, C = {}, groups = {}, M = {}, K = {}, N = {}, F = {}, T = {}{row_tiles})",
            g.rows, g.cols, g.groups, g.m, g.k, g.n, g.folds, g.tiles
        );
        let tensor = (role == Role::Accumulators).then(|| TensorLayout {
            shape: Vec::new(),
            groups: g.groups,
            group_channels: g.n,
            rows: g.m,
        });
        (order, tensor)
    }

    /// Writes the layer's images through `open` (which creates a file by
    /// name) and returns their manifest entries. `output_shape` is the
    /// layer's output tensor shape, for the accumulator layout.
    pub fn write<W: Write>(
        &self,
        open: &mut dyn FnMut(&str) -> Result<W, ExportError>,
        output_shape: &[usize],
    ) -> Result<Vec<FileEntry>, ExportError> {
        let mut entries = vec![self.write_weights(open)?, self.write_activations(open)?];
        let post = self.arithmetic.datapath.bias == crate::exec::BiasMode::Post;
        let starts = self.in_register(&self.image.starts);
        entries.push(self.write_channels(open, "bias", Role::Bias, &starts)?);
        if post {
            let post_biases = self.in_register(&self.image.post_biases);
            entries.push(self.write_channels(open, "bias_post", Role::BiasPost, &post_biases)?);
        }
        entries.push(self.write_requant(open)?);
        if let Some(accumulators) = self.accumulators {
            let mut entry = self.write_accumulators(open, accumulators)?;
            if let Some(tensor) = entry.tensor.as_mut() {
                tensor.shape = output_shape.to_vec();
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    fn write_weights<W: Write>(
        &self,
        open: &mut dyn FnMut(&str) -> Result<W, ExportError>,
    ) -> Result<FileEntry, ExportError> {
        let g = self.geometry;
        let mut spec = self.spec("weights", Role::Weights, self.widths.weight_bits, g.cols);
        spec.signed = self.widths.weight_signed;
        let mut writer = MemWriter::new(open(&spec.name)?, spec)?;
        let mut word = vec![0_i64; g.cols];
        for group in 0..g.groups {
            for tile in 0..g.tiles {
                for fold in 0..g.folds {
                    for row in 0..g.rows {
                        let k = fold * g.rows + row;
                        for (j, element) in word.iter_mut().enumerate() {
                            let n = tile * g.cols + j;
                            *element = if k < g.k && n < g.n {
                                let channel = group * g.n + n;
                                self.image.weights[channel * g.k + k]
                            } else {
                                0
                            };
                        }
                        writer.push(&word)?;
                    }
                }
            }
        }
        writer.finish()
    }

    fn write_activations<W: Write>(
        &self,
        open: &mut dyn FnMut(&str) -> Result<W, ExportError>,
    ) -> Result<FileEntry, ExportError> {
        let g = self.geometry;
        let per_word = match g.unit {
            MacUnit::Array(_) => g.rows,
            MacUnit::Vector => g.cols,
        };
        let mut spec = self.spec(
            "activations",
            Role::Activations,
            self.widths.activation_bits,
            per_word,
        );
        spec.signed = self.widths.activation_signed;
        let mut writer = MemWriter::new(open(&spec.name)?, spec)?;
        match g.unit {
            MacUnit::Array(Dataflow::WeightStationary) => {
                self.push_weight_stationary_activations(&mut writer)?
            }
            MacUnit::Array(Dataflow::OutputStationary) => {
                self.push_output_stationary_activations(&mut writer)?
            }
            MacUnit::Vector => self.push_vector_activations(&mut writer)?,
        }
        writer.finish()
    }

    /// Pushes one word of `rows` K terms of a pixel per fold and pixel.
    fn push_weight_stationary_activations<W: Write>(
        &self,
        writer: &mut MemWriter<W>,
    ) -> Result<(), ExportError> {
        let g = self.geometry;
        let mut word = vec![0_i64; g.rows];
        for group in 0..g.groups {
            let group_rows = &self.activations[group * g.m * g.k..][..g.m * g.k];
            for fold in 0..g.folds {
                for pixel in group_rows.chunks_exact(g.k.max(1)) {
                    for (row, element) in word.iter_mut().enumerate() {
                        *element = pixel.get(fold * g.rows + row).copied().unwrap_or(0);
                    }
                    writer.push(&word)?;
                }
            }
        }
        Ok(())
    }

    /// Pushes one word of one K term of `rows` pixels per row tile and term.
    fn push_output_stationary_activations<W: Write>(
        &self,
        writer: &mut MemWriter<W>,
    ) -> Result<(), ExportError> {
        let g = self.geometry;
        let mut word = vec![0_i64; g.rows];
        for group in 0..g.groups {
            let group_rows = &self.activations[group * g.m * g.k..][..g.m * g.k];
            for row_tile in 0..g.row_tiles {
                for k in 0..g.k {
                    for (row, element) in word.iter_mut().enumerate() {
                        let pixel = row_tile * g.rows + row;
                        *element = if pixel < g.m {
                            group_rows[pixel * g.k + k]
                        } else {
                            0
                        };
                    }
                    writer.push(&word)?;
                }
            }
        }
        Ok(())
    }

    /// Pushes the vector unit's activations: lane `j` of tile `t` computes
    /// output channel `t*C + j`, whose operands are those of its channel
    /// group in the lowering (the group is the input channel).
    fn push_vector_activations<W: Write>(
        &self,
        writer: &mut MemWriter<W>,
    ) -> Result<(), ExportError> {
        let g = self.geometry;
        let group_outputs = self.image.group_outputs.max(1);
        let mut word = vec![0_i64; g.cols];
        for tile in 0..g.tiles {
            for pixel in 0..g.m {
                for k in 0..g.k {
                    for (lane, element) in word.iter_mut().enumerate() {
                        let channel = tile * g.cols + lane;
                        *element = if channel < g.n {
                            let group = channel / group_outputs;
                            self.activations[(group * g.m + pixel) * g.k + k]
                        } else {
                            0
                        };
                    }
                    writer.push(&word)?;
                }
            }
        }
        Ok(())
    }

    /// Returns `values` (the accumulator initial values, or the post biases)
    /// as the register contains them after the load, wrapped or saturated to
    /// its width, as the executor loads them.
    fn in_register(&self, values: &[i64]) -> Vec<i64> {
        let bits = self.widths.accumulator_bits;
        let overflow = self.arithmetic.overflow;
        values
            .iter()
            .map(|&start| match overflow {
                Overflow::Wrap => crate::numeric::wrap(start, bits, Signedness::Signed),
                Overflow::Saturate => crate::numeric::saturate(start, bits, Signedness::Signed),
            })
            .collect()
    }

    /// Writes one word of `cols` per-channel values per group and tile.
    fn write_channels<W: Write>(
        &self,
        open: &mut dyn FnMut(&str) -> Result<W, ExportError>,
        suffix: &str,
        role: Role,
        values: &[i64],
    ) -> Result<FileEntry, ExportError> {
        let g = self.geometry;
        let spec = self.spec(suffix, role, self.widths.accumulator_bits, g.cols);
        let mut writer = MemWriter::new(open(&spec.name)?, spec)?;
        self.push_channel_words(&mut writer, |channel| values[channel])?;
        writer.finish()
    }

    fn push_channel_words<W: Write>(
        &self,
        writer: &mut MemWriter<W>,
        value: impl Fn(usize) -> i64,
    ) -> Result<(), ExportError> {
        let g = self.geometry;
        let mut word = vec![0_i64; g.cols];
        for group in 0..g.groups {
            for tile in 0..g.tiles {
                for (j, element) in word.iter_mut().enumerate() {
                    let n = tile * g.cols + j;
                    *element = if n < g.n { value(group * g.n + n) } else { 0 };
                }
                writer.push(&word)?;
            }
        }
        Ok(())
    }

    fn write_requant<W: Write>(
        &self,
        open: &mut dyn FnMut(&str) -> Result<W, ExportError>,
    ) -> Result<FileEntry, ExportError> {
        let multiplier_bits = self.widths.multiplier_bits;
        let elements = self.requant_elements(multiplier_bits)?;
        let mut spec = self.spec(
            "requant",
            Role::Requant,
            SHIFT_BITS + multiplier_bits,
            self.geometry.cols,
        );
        spec.element_order = format!(
            "{}; element = {{shift: {SHIFT_BITS}-bit two's complement right shift (negative = left shift), multiplier: {multiplier_bits} bits two's complement}}, value = multiplier * 2^-shift",
            spec.element_order
        );
        spec.signed = false;
        let mut writer = MemWriter::new(open(&spec.name)?, spec)?;
        self.push_channel_words(&mut writer, |channel| elements[channel])?;
        writer.finish()
    }

    /// Packs each channel's `{shift, multiplier}` into one unsigned element.
    fn requant_elements(&self, multiplier_bits: u32) -> Result<Vec<i64>, ExportError> {
        let invalid = |channel: usize, message: String| ExportError::Layer {
            index: self.index,
            op: "MAC layer".to_string(),
            message: format!("channel {channel}: {message}"),
        };
        let shift_mode = multiplier_bits == 0;
        self.image
            .requant
            .iter()
            .enumerate()
            .map(|(channel, requant)| {
                let shift = i64::from(requant.right_shift);
                if !fits(shift, SHIFT_BITS, true) {
                    return Err(invalid(
                        channel,
                        format!("right shift {shift} does not fit {SHIFT_BITS} bits"),
                    ));
                }
                let shift_field = (shift as u64) & ((1 << SHIFT_BITS) - 1);
                if shift_mode {
                    if requant.multiplier != 1 {
                        return Err(invalid(channel, format!(
                            "scale multiplier {} is not 1; the shift mode holds only positive power-of-two scales",
                            requant.multiplier
                        )));
                    }
                    return Ok(shift_field as i64);
                }
                if !fits(requant.multiplier, multiplier_bits, true) {
                    return Err(invalid(
                        channel,
                        format!(
                            "multiplier {} does not fit {multiplier_bits} bits",
                            requant.multiplier
                        ),
                    ));
                }
                let mask = (1_u64 << multiplier_bits) - 1;
                let multiplier_field = requant.multiplier as u64 & mask;
                Ok(((shift_field << multiplier_bits) | multiplier_field) as i64)
            })
            .collect()
    }

    fn write_accumulators<W: Write>(
        &self,
        open: &mut dyn FnMut(&str) -> Result<W, ExportError>,
        accumulators: &[i64],
    ) -> Result<FileEntry, ExportError> {
        let g = self.geometry;
        let channels = g.groups * g.n;
        let spec = self.spec(
            "acc",
            Role::Accumulators,
            self.widths.accumulator_bits,
            g.cols,
        );
        let mut writer = MemWriter::new(open(&spec.name)?, spec)?;
        let mut word = vec![0_i64; g.cols];
        for group in 0..g.groups {
            for tile in 0..g.tiles {
                for pixel in 0..g.m {
                    for (j, element) in word.iter_mut().enumerate() {
                        let n = tile * g.cols + j;
                        *element = if n < g.n {
                            accumulators[pixel * channels + group * g.n + n]
                        } else {
                            0
                        };
                    }
                    writer.push(&word)?;
                }
            }
        }
        writer.finish()
    }
}
