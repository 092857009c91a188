//! Hostile-input smoke test: random bytes and random `cd_values` through every filter must
//! return (an error or data), never panic, and never return more than the output limit.

use h5oxide_filters::{output_limit, Registry};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn cd_value(rng: &mut Rng) -> u32 {
    match rng.below(6) {
        0 => 0,
        1 => rng.below(8) as u32,
        2 => rng.below(70) as u32,
        3 => 1 << rng.below(32),
        4 => u32::MAX - rng.below(3) as u32,
        _ => rng.next() as u32,
    }
}

#[test]
fn random_inputs_never_panic() {
    let reg = Registry::default();
    let iters: usize = std::env::var("ROBUSTNESS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let seed: u64 = std::env::var("ROBUSTNESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut rng = Rng(seed.max(1));
    for id in reg.ids() {
        let f = reg.get(id).expect("registered");
        for _ in 0..iters {
            let n = rng.below(400) as usize;
            let mut input: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            // Plausible headers now and then, so decoders get past their first checks.
            if n >= 16 && rng.below(2) == 0 {
                input[0] = [2, 5, 0x9e][rng.below(3) as usize];
                input[4..8].copy_from_slice(&(rng.below(5000) as u32).to_le_bytes());
            }
            let ncd = rng.below(24) as usize;
            let mut cd: Vec<u32> = (0..ncd).map(|_| cd_value(&mut rng)).collect();
            if id == 5 && !cd.is_empty() {
                cd[0] = ncd as u32;
                if ncd > 1 {
                    cd[1] = 0;
                }
            }
            let hint = rng.below(10_000) as usize;
            if let Ok(out) = f.decode(&input, &cd, hint) {
                assert!(
                    out.len() <= output_limit(hint).max(input.len()),
                    "filter {id}: {} bytes",
                    out.len()
                );
            }
        }
    }
}
