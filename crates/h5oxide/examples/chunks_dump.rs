//! Development probe: prints the chunk records of the dataset whose object header is at ADDR
//! and times reading it whole.
//! Usage: chunks_dump FILE ADDR
use h5oxide::chunked::{read_chunked, Hyperslab};
use h5oxide_filters::Registry;
use h5oxide_format::chunk_index::chunk_records;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::messages::filter_pipeline::FilterPipeline;
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
        let pipeline = oh
            .find(msg::FILTER_PIPELINE)
            .map(|m| FilterPipeline::decode(&mut body(&ctx, m, "pipeline")))
            .transpose()?;
        let es = cl.element_size as usize;
        let sel = Hyperslab::all(dims);
        let mut out = vec![0u8; sel.num_elements().unwrap_or(0) as usize * es];
        let reg = Registry::default();
        let fill = vec![0; es];
        for _ in 0..3 {
            let t = std::time::Instant::now();
            read_chunked(
                &ctx,
                cl,
                pipeline.as_ref(),
                &reg,
                dims,
                max,
                es,
                &fill,
                &sel,
                &mut out,
            )?;
            println!("read {} bytes in {:?}", out.len(), t.elapsed());
        }
    }
    Ok(())
}
