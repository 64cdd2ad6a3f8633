//! Capture of the accumulators a MAC kernel hands to its PPU, for golden
//! vectors of the stage before requantisation.
//!
//! [`Capture`] wraps any [`Accumulation`] and records each finished
//! accumulator at its output element's flat index, so the values are those
//! of the one executor and not of a second model. Limitation: a capturing
//! run takes the generic kernels, never the int8 fast paths, so it is
//! slower than a plain run.

use super::mac::Accumulation;
use super::mac_layer::OutputElement;
use super::mac_ppu::{Ppu, Requantize};
use crate::exec::{ExecError, OverflowCounts, TensorValue};
use std::sync::atomic::{AtomicI64, Ordering};

/// An accumulation that also stores every finished accumulator in
/// `values`, indexed like the output tensor.
pub(crate) struct Capture<'a, A> {
    pub inner: &'a A,
    pub values: &'a [AtomicI64],
}

impl<A: Accumulation> Accumulation for Capture<'_, A> {
    type Register = A::Register;
    type Output = A::Output;

    #[inline(always)]
    fn start(&self, start: i64) -> Self::Register {
        self.inner.start(start)
    }

    #[inline(always)]
    fn dot(&self, register: Self::Register, patch: &[i16], weights: &[i16]) -> Self::Register {
        self.inner.dot(register, patch, weights)
    }

    #[inline(always)]
    fn mac_lanes(
        &self,
        registers: &mut [Self::Register],
        k: usize,
        inputs: &[i16],
        weights: &[i16],
    ) {
        self.inner.mac_lanes(registers, k, inputs, weights)
    }

    #[inline(always)]
    fn finish(&self, register: Self::Register) -> Self::Output {
        self.inner.finish(register)
    }

    fn post_process<T: OutputElement>(
        &self,
        ppu: &Ppu,
        first_channel: usize,
        first_element: usize,
        accumulators: &[Self::Output],
        outputs: &mut [T],
    ) {
        let slots = self.values.iter().skip(first_element);
        for (slot, accumulator) in slots.zip(accumulators) {
            slot.store(accumulator.register_value(), Ordering::Relaxed);
        }
        self.inner
            .post_process(ppu, first_channel, first_element, accumulators, outputs);
    }
}

/// The slots a kernel evaluation stores its accumulators in, if any.
pub(crate) type CaptureSlots<'a> = Option<&'a [AtomicI64]>;

/// Runs `evaluate` with `elements` capture slots and returns its outputs
/// with the captured accumulators.
pub(crate) fn capture_accumulators(
    elements: usize,
    evaluate: impl FnOnce(
        CaptureSlots<'_>,
    ) -> Result<(Vec<TensorValue>, Option<OverflowCounts>), ExecError>,
) -> Result<(Vec<TensorValue>, Option<Vec<i64>>), ExecError> {
    let slots: Vec<AtomicI64> = (0..elements).map(|_| AtomicI64::new(0)).collect();
    let (outputs, _) = evaluate(Some(&slots))?;
    let values = slots.into_iter().map(AtomicI64::into_inner).collect();
    Ok((outputs, Some(values)))
}
