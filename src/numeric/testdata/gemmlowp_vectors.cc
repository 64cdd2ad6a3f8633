// Prints "function int_bits input output..." lines computed by gemmlowp's
// scalar fixed-point code, for the ignored test `gemmlowp_vectors_match` in
// src/numeric/oracle_tests.rs. Build against a gemmlowp checkout (TFLite
// Micro's Bazel build pins commit fda83bdc38b118cc6b56753bd540caa49e570745):
//
//   g++ -O2 -fwrapv -std=c++17 -DGEMMLOWP_ENABLE_FIXEDPOINT_CONSTANTS_CHECKS \
//       -I GEMMLOWP_DIR gemmlowp_vectors.cc -o gemmlowp_vectors
//   ./gemmlowp_vectors 20000 > vectors.txt
//
// -fwrapv gives the wrapping signed overflow that the Rust port defines.
// The argument is the number of random inputs per function; edge values and
// values next to powers of two are always included. The seed is fixed.
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>
#include "fixedpoint/fixedpoint.h"

using gemmlowp::FixedPoint;
using F0 = FixedPoint<std::int32_t, 0>;

static std::mt19937_64 rng(12345);
static std::vector<int32_t> samples(int64_t lo, int64_t hi, int n) {
  std::vector<int32_t> v;
  std::uniform_int_distribution<int64_t> d(lo, hi);
  for (int64_t e : {lo, hi, lo + 1, hi - 1, (lo + hi) / 2}) v.push_back((int32_t)e);
  // Values near powers of two and small magnitudes.
  for (int k = 0; k < 31; ++k) {
    for (int64_t e : {int64_t(1) << k, -(int64_t(1) << k), (int64_t(1) << k) - 1, -(int64_t(1) << k) + 1})
      if (e >= lo && e <= hi) v.push_back((int32_t)e);
  }
  for (int i = 0; i < n; ++i) v.push_back((int32_t)d(rng));
  return v;
}

template <int I> void exp_neg(int n) {
  for (int32_t a : samples(INT32_MIN, 0, n))
    printf("exp_on_negative_values %d %d %d\n", I, a,
           gemmlowp::exp_on_negative_values(FixedPoint<int32_t, I>::FromRaw(a)).raw());
}
template <int I> void logistic(int n) {
  for (int32_t a : samples(INT32_MIN, INT32_MAX, n))
    printf("logistic %d %d %d\n", I, a, gemmlowp::logistic(FixedPoint<int32_t, I>::FromRaw(a)).raw());
}
template <int I> void tanh_(int n) {
  for (int32_t a : samples(INT32_MIN + 1, INT32_MAX, n))
    printf("tanh %d %d %d\n", I, a, gemmlowp::tanh(FixedPoint<int32_t, I>::FromRaw(a)).raw());
}

// TFLite GetReciprocal, written out from tensorflow/lite/kernels/internal/common.h.
static int32_t get_reciprocal(int32_t x, int digits, int* bits_over_unit) {
  int headroom_plus_one = __builtin_clz((uint32_t)x);
  *bits_over_unit = digits - headroom_plus_one;
  int32_t shifted = (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
  return gemmlowp::one_over_one_plus_x_for_x_in_0_1(F0::FromRaw(shifted)).raw();
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  for (int32_t a : samples(-(1 << 29), -1, n))
    printf("exp_on_interval 0 %d %d\n", a,
           gemmlowp::exp_on_interval_between_negative_one_quarter_and_0_excl(F0::FromRaw(a)).raw());
  exp_neg<0>(n); exp_neg<1>(n); exp_neg<2>(n); exp_neg<4>(n); exp_neg<5>(n);
  exp_neg<6>(n); exp_neg<12>(n); exp_neg<20>(n); exp_neg<29>(n);
  for (int32_t a : samples(0, INT32_MAX, n)) {
    printf("one_over_one_plus_x 0 %d %d\n", a, gemmlowp::one_over_one_plus_x_for_x_in_0_1(F0::FromRaw(a)).raw());
    printf("one_minus_x_over_one_plus_x 0 %d %d\n", a,
           gemmlowp::one_minus_x_over_one_plus_x_for_x_in_0_1(F0::FromRaw(a)).raw());
  }
  logistic<0>(n); logistic<4>(n); logistic<5>(n); logistic<12>(n); logistic<29>(n);
  tanh_<0>(n); tanh_<4>(n); tanh_<12>(n); tanh_<28>(n);
  for (int32_t x : samples(1, INT32_MAX, n)) {
    int bits;
    int32_t r = get_reciprocal(x, 12, &bits);
    printf("get_reciprocal 12 %d %d %d\n", x, r, bits);
  }
  for (int32_t a : samples(INT32_MIN, INT32_MAX, n)) {
    int32_t b = (int32_t)rng();
    printf("srdhm %d %d %d\n", a, b, gemmlowp::SaturatingRoundingDoublingHighMul(a, b));
    int e = (int)(rng() % 32);
    printf("rdbpot %d %d %d\n", e, a, gemmlowp::RoundingDivideByPOT(a, e));
  }
}
