//! Start jitter: a per-job delay that spreads jobs due at the same instant,
//! the same for a job on every replica and every build.

use std::time::Duration;

/// A delay of 0 to `max_secs` whole seconds (both included), fixed by `seed`
/// (the job's UUID as a `u128`): the same seed always gives the same delay,
/// and seeds spread evenly over the range. Zero when `max_secs` is 0.
///
/// The delay is added to a run's due instant ([`crate::Run::start_at`]),
/// never subtracted, so a run never starts before it is due.
///
/// The mixing is splitmix64's finaliser over the seed's two halves, written
/// out here rather than taken from `std`'s hashers, whose output may change
/// between builds.
pub fn jitter(seed: u128, max_secs: u32) -> Duration {
    if max_secs == 0 {
        return Duration::ZERO;
    }
    // Truncations are the point: the seed's low and high 64 bits.
    let low = seed as u64;
    let high = (seed >> 64) as u64;
    let mixed = splitmix64(high ^ splitmix64(low));
    // Modulo bias is below 2^32 / 2^64: invisible at this scale.
    Duration::from_secs(mixed % (u64::from(max_secs) + 1))
}

/// One step of splitmix64 (Steele, Lea and Flood, 2014): a bijection on
/// `u64` whose every output bit depends on every input bit.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of the reference generator seeded with 0 (its
        // state advances by the golden gamma before each output).
        let gamma = 0x9E37_79B9_7F4A_7C15_u64;
        let outputs: Vec<u64> = (0..3u64).map(|i| splitmix64(i.wrapping_mul(gamma))).collect();
        assert_eq!(outputs, [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F]);
    }
}
