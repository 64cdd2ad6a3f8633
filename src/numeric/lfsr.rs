//! The 32-bit Galois LFSR that supplies the random bits of stochastic
//! rounding, and the rule that gives each rounding event its word.
//!
//! Polynomial `x^32 + x^22 + x^2 + x + 1` (primitive, so the period is
//! `2^32 - 1` states; a unit test checks the order of `x`). One step
//! multiplies the state by `x` modulo the polynomial: shift left by one and,
//! when the bit shifted out was 1, XOR the low 32 bits of the polynomial,
//! `0x0040_0007`. In Verilog:
//! `state <= {state[30:0], 1'b0} ^ (state[31] ? 32'h0040_0007 : 32'h0)`.
//!
//! Rounding event `e` of layer `l` has the global index
//! `g = l * 2^24 + e` and uses the state reached after `32 * (g + 1)` steps
//! from the seed. Each event thus takes 32 fresh steps, and the word
//! depends only on `(seed, layer, event)`, never on the order in which
//! threads or PE columns compute. Because 32 is coprime to the period, the
//! words of events `0, 1, 2, ...` repeat only after `2^32 - 1` events.
//! Limitation: that period contains 256 layer windows of `2^24` events, so
//! layer `l + 256` reuses the words of layer `l` shifted by one event, and a
//! layer with more than `2^24` rounding events runs into the next layer's
//! window.

/// Low 32 bits of the feedback polynomial `x^32 + x^22 + x^2 + x + 1`; the
/// `x^32` term is implicit.
pub const POLYNOMIAL: u32 = 0x0040_0007;

/// Number of distinct nonzero states, `2^32 - 1`.
pub const PERIOD: u64 = (1 << 32) - 1;

/// LFSR steps per rounding event.
pub const STEPS_PER_EVENT: u64 = 32;

/// Rounding events reserved for each layer before the next layer's window.
pub const EVENTS_PER_LAYER: u64 = 1 << 24;

/// A 32-bit Galois LFSR state, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lfsr {
    state: u32,
}

impl Lfsr {
    /// Starts from `seed`, or returns `None` for 0, the lock-up state that
    /// an LFSR never leaves.
    pub fn new(seed: u32) -> Option<Lfsr> {
        (seed != 0).then_some(Lfsr { state: seed })
    }

    /// Returns the current state.
    pub fn state(self) -> u32 {
        self.state
    }

    /// Advances one step: multiplies the state by `x` modulo the polynomial.
    pub fn step(&mut self) {
        self.state = times_x(self.state);
    }

    /// Advances `steps` steps at once by multiplying the state by
    /// `x^steps` modulo the polynomial: about 64 polynomial products,
    /// whatever `steps` is.
    pub fn advance(&mut self, steps: u64) {
        self.state = multiply_mod(self.state, x_power(steps % PERIOD));
    }
}

/// The random words of consecutive rounding events of one layer.
#[derive(Debug, Clone, Copy)]
pub struct RoundingWords {
    lfsr: Lfsr,
}

impl RoundingWords {
    /// Positions the stream right before event `first_event` of layer
    /// `layer`, or returns `None` for seed 0.
    pub fn new(seed: u32, layer: usize, first_event: u64) -> Option<RoundingWords> {
        let mut lfsr = Lfsr::new(seed)?;
        // The global event index modulo the period, in u128 so that no
        // layer index or event count overflows.
        let global_event = (layer as u128 * u128::from(EVENTS_PER_LAYER) + u128::from(first_event))
            % u128::from(PERIOD);
        // 32 * g steps: one factor x^(32 * 2^i) per set bit i of g.
        for (bit, factor) in EVENT_JUMPS.iter().enumerate() {
            if (global_event >> bit) & 1 == 1 {
                lfsr.state = multiply_mod(lfsr.state, *factor);
            }
        }
        Some(RoundingWords { lfsr })
    }

    /// Advances 32 steps and returns the word of the next event.
    pub fn next_word(&mut self) -> u32 {
        // Multiplying by x^32 is linear over GF(2): one table per byte.
        let state = self.lfsr.state;
        self.lfsr.state = EVENT_STEP[0][(state & 0xFF) as usize]
            ^ EVENT_STEP[1][((state >> 8) & 0xFF) as usize]
            ^ EVENT_STEP[2][((state >> 16) & 0xFF) as usize]
            ^ EVENT_STEP[3][(state >> 24) as usize];
        self.lfsr.state
    }
}

/// `x^32` modulo the polynomial: one rounding event's 32 steps.
const X_POWER_32: u32 = POLYNOMIAL;

/// `EVENT_STEP[j][b]` is `(b << 8j) * x^32` modulo the polynomial.
const EVENT_STEP: [[u32; 256]; 4] = {
    let mut tables = [[0; 256]; 4];
    let mut byte = 0;
    while byte < 4 {
        let mut value = 0;
        while value < 256 {
            tables[byte][value] = multiply_mod((value as u32) << (8 * byte), X_POWER_32);
            value += 1;
        }
        byte += 1;
    }
    tables
};

/// `EVENT_JUMPS[i]` is `x^(32 * 2^i)` modulo the polynomial: the jump over
/// `2^i` rounding events.
const EVENT_JUMPS: [u32; 32] = {
    let mut jumps = [0; 32];
    jumps[0] = X_POWER_32;
    let mut bit = 1;
    while bit < 32 {
        jumps[bit] = multiply_mod(jumps[bit - 1], jumps[bit - 1]);
        bit += 1;
    }
    jumps
};

/// Returns the random word of rounding event `event` of layer `layer`, or
/// `None` for seed 0.
pub fn rounding_word(seed: u32, layer: usize, event: u64) -> Option<u32> {
    RoundingWords::new(seed, layer, event).map(|mut words| words.next_word())
}

/// Multiplies a polynomial of degree below 32 by `x` modulo the LFSR
/// polynomial.
const fn times_x(state: u32) -> u32 {
    let carry = state >> 31;
    (state << 1) ^ (POLYNOMIAL & carry.wrapping_neg())
}

/// Multiplies two polynomials modulo the LFSR polynomial (Horner's rule
/// over the bits of `b`, most significant first).
const fn multiply_mod(a: u32, b: u32) -> u32 {
    let mut product = 0;
    let mut bit = 32;
    while bit > 0 {
        bit -= 1;
        product = times_x(product);
        if (b >> bit) & 1 == 1 {
            product ^= a;
        }
    }
    product
}

/// Returns `x^exponent` modulo the LFSR polynomial, by square and
/// multiply.
fn x_power(exponent: u64) -> u32 {
    let mut result = 1;
    let mut base = 2; // the polynomial x
    let mut exponent = exponent;
    while exponent != 0 {
        if exponent & 1 == 1 {
            result = multiply_mod(result, base);
        }
        base = multiply_mod(base, base);
        exponent >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x` has order exactly `2^32 - 1` modulo the polynomial, which holds
    /// only for a primitive polynomial: the LFSR has maximal length.
    #[test]
    fn polynomial_is_primitive() {
        assert_eq!(x_power(PERIOD), 1);
        // 2^32 - 1 = 3 * 5 * 17 * 257 * 65537.
        let prime_factors = [3_u64, 5, 17, 257, 65537];
        assert_eq!(prime_factors.iter().product::<u64>(), PERIOD);
        for factor in prime_factors {
            assert_ne!(x_power(PERIOD / factor), 1, "x^(period / {factor})");
        }
    }

    #[test]
    fn first_words_from_seed_one() {
        // From an independent Python model of the same LFSR, stepped bit by
        // bit: the states after 32, 64, ... steps from seed 1.
        let mut words = RoundingWords::new(1, 0, 0).unwrap();
        let expected = [
            0x0040_0007_u32,
            0x0100_7009,
            0x0640_901B,
            0x0507_0181,
            0x1F53_C077,
        ];
        for want in expected {
            assert_eq!(words.next_word(), want);
        }
    }

    #[test]
    fn advance_matches_single_steps() {
        let mut stepped = Lfsr::new(0xACE1_2345).unwrap();
        for steps in 0..200_u64 {
            let mut jumped = Lfsr::new(0xACE1_2345).unwrap();
            jumped.advance(steps);
            assert_eq!(jumped, stepped, "after {steps} steps");
            stepped.step();
        }
    }

    #[test]
    fn advance_by_period_returns_to_seed() {
        let mut lfsr = Lfsr::new(0x1234_5678).unwrap();
        lfsr.advance(PERIOD);
        assert_eq!(lfsr.state(), 0x1234_5678);
        lfsr.advance(PERIOD * 3 + 5);
        let mut expected = Lfsr::new(0x1234_5678).unwrap();
        for _ in 0..5 {
            expected.step();
        }
        assert_eq!(lfsr, expected);
    }

    #[test]
    fn rounding_word_follows_layer_windows() {
        let seed = 0xDEAD_BEEF;
        // Event e of layer l is event l * 2^24 + e of layer 0.
        for (layer, event) in [(0, 0), (0, 7), (1, 0), (3, 12345), (255, 99)] {
            let global = layer as u64 * EVENTS_PER_LAYER + event;
            assert_eq!(
                rounding_word(seed, layer, event),
                rounding_word(seed, 0, global),
                "layer {layer}, event {event}"
            );
        }
        // 256 windows of 2^24 events are 2^32 events, one more than the
        // period: layer 256 repeats layer 0 one event later.
        assert_eq!(rounding_word(seed, 256, 5), rounding_word(seed, 0, 6));
        assert_ne!(rounding_word(seed, 256, 5), rounding_word(seed, 0, 5));
    }

    #[test]
    fn event_tables_match_thirty_two_steps() {
        for seed in [1_u32, 0x8000_0000, 0xDEAD_BEEF, u32::MAX] {
            let mut words = RoundingWords {
                lfsr: Lfsr::new(seed).unwrap(),
            };
            let mut stepped = Lfsr::new(seed).unwrap();
            for _ in 0..20 {
                for _ in 0..STEPS_PER_EVENT {
                    stepped.step();
                }
                assert_eq!(words.next_word(), stepped.state(), "seed {seed:#x}");
            }
        }
        for (bit, &jump) in EVENT_JUMPS.iter().enumerate() {
            assert_eq!(jump, x_power(STEPS_PER_EVENT << bit), "bit {bit}");
        }
    }

    #[test]
    fn stream_matches_single_words() {
        let mut words = RoundingWords::new(77, 4, 1000).unwrap();
        for event in 1000..1040 {
            assert_eq!(Some(words.next_word()), rounding_word(77, 4, event));
        }
    }

    #[test]
    fn seed_zero_is_rejected() {
        assert_eq!(Lfsr::new(0), None);
        assert!(RoundingWords::new(0, 0, 0).is_none());
        assert_eq!(rounding_word(0, 1, 2), None);
    }

    #[test]
    fn states_are_never_zero() {
        let mut lfsr = Lfsr::new(1).unwrap();
        for _ in 0..100_000 {
            lfsr.step();
            assert_ne!(lfsr.state(), 0);
        }
    }
}
