//! Development probe: decode the superblock and root object header of each file given.
use h5oxide_format::object_header::ObjectHeader;
use h5oxide_format::source::{Ctx, Offset};
use h5oxide_format::superblock::Superblock;

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).unwrap_or_default();
        let r = (|| {
            let sb = Superblock::find(&data)?;
            let src = Offset {
                inner: data.clone(),
                base: sb.base_address,
            };
            let ctx = Ctx::new(&src, sb.sizes);
            let oh = ObjectHeader::read(&ctx, sb.root_object_header_address)?;
            Ok::<_, h5oxide_format::Error>((
                sb.version,
                oh.version,
                oh.messages.iter().map(|m| m.kind).collect::<Vec<_>>(),
            ))
        })();
        println!("{path}: {r:?}");
    }
}
