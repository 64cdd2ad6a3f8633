//! The datapath a network runs on: how the MAC array accumulates and how the
//! post-processing unit (PPU) turns accumulators into output activations.
//!
//! Every mode is an enum, so a new hardware variant makes the compiler flag
//! each MAC kernel that must handle it. Limitation: the accumulator and the
//! requantiser exist only in their reference form so far. The bias placement
//! and the zero-point handling can already be varied, and under the
//! reference accumulator they do not change any result.

/// Arithmetic of the multiply-accumulate layers (CONV_2D,
/// DEPTHWISE_CONV_2D, FULLY_CONNECTED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datapath {
    pub accumulator: AccumulatorMode,
    pub bias: BiasMode,
    pub zero_point: ZeroPointMode,
    pub requant: RequantMode,
}

/// The accumulator register and the order in which products enter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccumulatorMode {
    /// The register of the TFLite Micro reference kernels: 32 bits wrapping
    /// for int8 activations and for int16 activations with an int32 bias, 64
    /// bits for int16 activations with an int64 bias (or none). Because
    /// both wrap, the summation order does not change the result.
    Reference,
}

/// Entry point of the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BiasMode {
    /// As the accumulator's initial value.
    Init,
    /// In the PPU, added to the finished accumulator before requantisation.
    Post,
}

/// Removal of the input zero point `zx` from the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroPointMode {
    /// Each product is `w * (x - zx)`; padded taps contribute 0.
    Subtract,
    /// Each product is `w * x` with the raw input (padded taps read `zx`),
    /// and `-zx * sum(w)` over the whole kernel is added to the bias.
    Fold,
}

/// Scaling of an accumulator to the output grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequantMode {
    /// TFLite reference semantics: a 32-bit multiplier and a shift per
    /// output channel. A 32-bit accumulator takes the saturating rounding
    /// doubling high multiply and then a rounding right shift (two
    /// roundings). A 64-bit one takes the reference's int64 overload, which
    /// rounds the multiplier to 16 bits and the product once.
    Tflite,
}

impl Datapath {
    /// Builds the datapath of the TFLite Micro reference kernels, bit for bit.
    pub fn reference() -> Datapath {
        Datapath {
            accumulator: AccumulatorMode::Reference,
            bias: BiasMode::Init,
            zero_point: ZeroPointMode::Subtract,
            requant: RequantMode::Tflite,
        }
    }
}

impl Default for Datapath {
    fn default() -> Self {
        Datapath::reference()
    }
}
