//! The seed example, end to end in h5oxide: WRITE `myfile.h5` (group `/experiment1` with
//! attribute `date = "2018-01-01"` and dataset `array1`, a 1000×1000 array of random float64),
//! then reopen it read-only, read the attribute and the dataset back, and check them against
//! what was written.
//!
//! Usage: `seed [FILE] [SEED]` — FILE defaults to `myfile.h5`; SEED (a `u64`) makes the random
//! numbers reproducible (default: from the clock). The last lines of the output are
//! `row0_sha256 HEX` and `array_sha256 HEX`, the SHA-256 of row 0 and of the whole array as
//! little-endian f64 bytes, so another reader (`scripts/demo` uses h5py) can verify the file.

use h5oxide::write::FileWriter;
use ndarray::{Array2, Axis};
use sha2::{Digest, Sha256};

/// SplitMix64: a small, well-known 64-bit generator, enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), like numpy's `random()`: 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn sha256_hex<'a>(values: impl Iterator<Item = &'a f64>) -> String {
    let mut h = Sha256::new();
    for v in values {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "myfile.h5".into());
    let seed = match args.next() {
        Some(s) => s.parse::<u64>()?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    };

    // --- write
    let mut rng = SplitMix64(seed);
    let data = Array2::from_shape_simple_fn((1000, 1000), || rng.next_f64());
    let mut f = FileWriter::create(&path)?;
    let g = f.create_group("experiment1")?;
    g.set_attr("date", "2018-01-01")?;
    g.create_dataset("array1", &data)?;
    f.close()?;
    let row0_sha = sha256_hex(data.index_axis(Axis(0), 0).iter());
    let array_sha = sha256_hex(data.iter());
    println!("h5oxide wrote {path}: /experiment1 (date=\"2018-01-01\"), /experiment1/array1 1000x1000 float64 (seed {seed})");

    // --- read back, read-only
    let f = h5oxide::File::open(&path)?;
    let g = f.group("/experiment1")?;
    let date = g.attr("date")?.read_string()?;
    println!("h5oxide read /experiment1 attribute date = {date:?}");
    if date != "2018-01-01" {
        return Err(format!("attribute date reads back as {date:?}").into());
    }
    let ds = g.dataset("array1")?;
    println!(
        "h5oxide read /experiment1/array1: shape {:?}, dtype {}",
        ds.shape(),
        h5oxide::dtype_name(ds.dtype())
    );
    let a = ds.read::<f64>()?;
    let row0 = a.index_axis(Axis(0), 0);
    println!(
        "row 0: [{:.6}, {:.6}, {:.6}, ...]",
        row0[0], row0[1], row0[2]
    );
    if sha256_hex(row0.iter()) != row0_sha {
        return Err("row 0 read back differs from what was written".into());
    }
    if a != data.into_dyn() {
        return Err("array1 read back differs from what was written".into());
    }
    println!("row 0 and the whole array read back exactly as written");
    println!("row0_sha256 {row0_sha}");
    println!("array_sha256 {array_sha}");
    Ok(())
}
