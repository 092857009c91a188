//! The seed example, read side: open `myfile.h5` (group `/experiment1` with attribute
//! `date = "2018-01-01"` and dataset `array1`, a 1000×1000 float64 array), read the attribute
//! and the dataset, and check row 0.
//!
//! Usage: `seed FILE [ROW0_SHA256]` — when the SHA-256 of row 0 (1000 little-endian f64 values,
//! as the writer computed it) is given, the example fails unless what h5oxide read matches it.

use sha2::{Digest, Sha256};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "myfile.h5".into());
    let expect = args.next();

    let f = h5oxide::File::open(&path)?;
    let g = f.group("/experiment1")?;
    let date = g.attr("date")?.read_string()?;
    println!("/experiment1 attribute date = {date:?}");
    assert_eq!(date, "2018-01-01", "attribute date");

    let ds = g.dataset("array1")?;
    println!(
        "/experiment1/array1: shape {:?}, dtype {}",
        ds.shape(),
        h5oxide::dtype_name(ds.dtype())
    );
    let a = ds.read::<f64>()?;
    let row0 = a.index_axis(ndarray::Axis(0), 0);
    let bytes: Vec<u8> = row0.iter().flat_map(|v| v.to_le_bytes()).collect();
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "row 0: [{:.6}, {:.6}, {:.6}, ...] (sha256 {digest})",
        row0[0], row0[1], row0[2]
    );
    if let Some(expect) = expect {
        if expect != digest {
            return Err(
                format!("row 0 differs from what was written: {digest} != {expect}").into(),
            );
        }
        println!("row 0 matches what was written");
    }
    Ok(())
}
