//! Development probe: prints the chunk records of the dataset whose object header is at ADDR.
//! Usage: chunks_dump FILE ADDR
use h5oxide_format::chunk_index::chunk_records;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::object_header::{body, msg, ObjectHeader};
use h5oxide_format::source::{Ctx, Offset};
use h5oxide_format::superblock::Superblock;

fn main() -> Result<(), h5oxide_format::Error> {
    let a: Vec<String> = std::env::args().collect();
    let (Some(file), Some(addr)) = (a.get(1), a.get(2).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: chunks_dump FILE ADDR");
        return Ok(());
    };
    let data = std::fs::read(file)?;
    let sb = Superblock::find(&data)?;
    let src = Offset {
        inner: data,
        base: sb.base_address,
    };
    let ctx = Ctx::new(&src, sb.sizes);
    let oh = ObjectHeader::read(&ctx, addr)?;
    let space = match oh.find(msg::DATASPACE) {
        Some(m) => Dataspace::decode(&mut body(&ctx, m, "dataspace"))?,
        None => return Ok(()),
    };
    let Some(m) = oh.find(msg::LAYOUT) else {
        return Ok(());
    };
    let layout = DataLayout::decode(&mut body(&ctx, m, "layout"))?;
    println!("{space:?}\n{layout:?}");
    if let (DataLayout::Chunked(cl), Dataspace::Simple { dims, max }) = (&layout, &space) {
        for r in chunk_records(&ctx, cl, dims, max, oh.has(msg::FILTER_PIPELINE))? {
            println!(
                "{:?} @{} size {} mask {}",
                r.offset, r.address, r.size, r.filter_mask
            );
        }
    }
    Ok(())
}
