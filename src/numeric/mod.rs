//! Integer building blocks shared by the executor and the hardware model:
//! rounding right shifts, N-bit saturation and wrapping, and the TFLite Micro
//! requantisation and fixed-point helpers.
//!
//! Everything here is a small pure function on machine integers, plus the
//! operand formats and the LFSR behind stochastic rounding. Each function
//! either matches a named reference bit for bit (TFLite Micro in its
//! default double-rounding build, gemmlowp) or documents which rounding it
//! uses instead. The main limitation: of the gemmlowp and TFLite helpers
//! only those used by the int8 kernels are ported.

mod activation;
mod fixed;
pub mod fixedpoint;
mod format;
pub mod lfsr;
#[cfg(test)]
mod oracle_tests;
mod overflow;
mod requant;
mod rescale;
mod rounding;

pub use activation::{
    calculate_input_radius, preprocess_softmax_scaling, LogisticParams, SoftmaxParams,
    LOGISTIC_INPUT_INTEGER_BITS, SOFTMAX_ACCUMULATION_INTEGER_BITS,
    SOFTMAX_SCALED_DIFF_INTEGER_BITS,
};
pub use fixed::{
    rounding_divide_by_pot, rounding_half_sum, saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
};
pub use format::{IntFormat, ParseIntFormatError};
pub use overflow::{int_range, saturate, wrap, Overflow, Signedness};
pub use requant::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_greater_than_one,
    multiply_by_quantized_multiplier_i64, multiply_by_quantized_multiplier_single_round,
    multiply_by_quantized_multiplier_smaller_than_one_exp, multiply_by_quantized_multiplier_wide,
    quantize_multiplier, quantize_multiplier_greater_than_one,
    quantize_multiplier_smaller_than_one_exp, QuantizedMultiplier,
};
pub use rescale::{
    multiply_by_integer_scale, nearest_power_of_two, quantize_multiplier_to_bits,
    single_rounding_scale, IntegerScale,
};
pub use rounding::{rounding_shift_right, Rounding};
