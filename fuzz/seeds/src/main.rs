//! `h5oxide-fuzz-seeds CORPUS_DIR OUT_DIR`: writes a seed corpus for every fuzz target into
//! `OUT_DIR/<target>/`, from the files listed in `CORPUS_DIR/MANIFEST.tsv`.
//!
//! * `whole_file`: files up to 64 KiB as they are.
//! * `superblock`: the first 1 KiB of every file (more when the superblock follows a user block).
//! * `object_header`: `[sizes][addr: u16][image]` for every object header below 64 KiB, with
//!   the image cut to 64 KiB.
//! * `datatype`, `dataspace`, `layout`, `filter_pipeline`, `attribute`: `[sizes][body]` of every
//!   such message of every object header reached from the root group, plus v2 headers found by
//!   their `OHDR` signature.
//! * `value`: `[sizes][len][datatype][element bytes]` from attribute messages.
//! * `cache_image`: metadata cache image blocks (`MDCI`) without their checksum;
//! * `btree_v1`, `btree_v2`, `fractal_heap`, `local_heap`, `global_heap`,
//!   `symbol_table_node`: `[sizes][addr: u16][target bytes][image]` for every structure found
//!   by its signature (`TREE`, `BTHD`, `FRHP`, `HEAP`, `GCOL`, `SNOD`) below 64 KiB.
//! * `chunk_index`: the layout and dataspace messages of every chunked dataset with the image.
//! * `vds_mapping`: the mapping block (without its checksum) of every virtual dataset.
//! * `link_messages`: `[sizes][body]` of every link, link info, group info, symbol table and
//!   attribute info message.
//! * `filter_*`: sample buffers encoded with the filter's own `encode` (for filters that can
//!   encode), with typical `cd_values`.
//!
//! File names are content hashes, so rerunning adds only new seeds.
#![forbid(unsafe_code)]

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use h5oxide_format::global_heap::GlobalHeapCollection;
use h5oxide_format::messages::attribute::AttributeMessage;
use h5oxide_format::messages::layout::DataLayout;
use h5oxide_format::messages::link::LinkTarget;
use h5oxide_format::object_header::{msg, ObjectHeader};
use h5oxide_format::{Ctx, Cursor, Sizes};

const SMALL: usize = 64 << 10;

struct Out {
    dir: PathBuf,
    written: usize,
}

impl Out {
    fn put(&mut self, target: &str, bytes: &[u8]) {
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let d = self.dir.join(target);
        std::fs::create_dir_all(&d).expect("create seed folder");
        let p = d.join(format!("{:016x}", h.finish()));
        if !p.exists() {
            std::fs::write(&p, bytes).expect("write seed");
            self.written += 1;
        }
    }
}

fn headers(file: &h5oxide::File, bytes: &[u8]) -> Vec<std::sync::Arc<ObjectHeader>> {
    let inner = file.inner();
    let ctx = inner.ctx();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut queue = VecDeque::from([inner.superblock().root_object_header_address]);
    // v2 headers found by signature (addresses relative to the base address).
    let base = inner.superblock().base_address as usize;
    for (i, w) in bytes.windows(4).enumerate() {
        if w == b"OHDR" && i >= base {
            queue.push_back((i - base) as u64);
        }
    }
    while let Some(a) = queue.pop_front() {
        if !seen.insert(a) || seen.len() > 2000 {
            continue;
        }
        let Ok(oh) = inner.header(a) else { continue };
        if let Ok(gl) = h5oxide_format::group::links(&ctx, &oh) {
            for l in gl.links {
                if let LinkTarget::Hard(t) = l.target {
                    queue.push_back(t);
                }
            }
        }
        out.push(oh);
    }
    out
}

fn with_sizes(sizes: Sizes, body: &[u8]) -> Vec<u8> {
    let mut v = vec![h5oxide_fuzz::sizes_byte(sizes)];
    v.extend_from_slice(body);
    v
}

/// `vds_mapping`: the mapping block of a virtual dataset's layout message, without its
/// checksum (the target appends one).
fn vds_seed(out: &mut Out, sizes: Sizes, image: &[u8], layout: &[u8]) {
    let mut c = Cursor::new(layout, 0, "layout message", sizes);
    let Ok(DataLayout::Virtual {
        heap_address,
        index,
    }) = DataLayout::decode(&mut c)
    else {
        return;
    };
    // `Ctx` wants a sized source; copying is fine for the few virtual datasets there are.
    let owned = image.to_vec();
    let ctx = Ctx::new(&owned, sizes);
    let Ok(heap) = GlobalHeapCollection::read(&ctx, heap_address) else {
        return;
    };
    if let Ok(block) = heap.object(index) {
        if let Some(body) = block.len().checked_sub(4).and_then(|n| block.get(..n)) {
            out.put("vds_mapping", &with_sizes(sizes, body));
        }
    }
}

fn seed_file(out: &mut Out, bytes: &[u8]) {
    if bytes.len() <= SMALL {
        out.put("whole_file", bytes);
    }
    let Ok(file) = h5oxide::File::from_bytes(bytes.to_vec()) else {
        out.put("superblock", &bytes[..bytes.len().min(1024)]);
        return;
    };
    let sb = file.superblock();
    let base = sb.base_address as usize;
    out.put("superblock", &bytes[..bytes.len().min(base + 1024)]);
    let sizes = sb.sizes;
    let image = bytes.get(base..).unwrap_or(&[]);
    let cut = &image[..image.len().min(SMALL)];
    // `cache_image`: each metadata cache image block, without its checksum (the target
    // appends one); the block's length field tells where it ends.
    for (i, w) in image.windows(4).enumerate() {
        if w != b"MDCI" {
            continue;
        }
        let l = usize::from(sizes.length);
        let len = image
            .get(i + 6..i + 6 + l)
            .map(h5oxide_format::cursor::le_uint)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n >= 4);
        if let Some(block) = len.and_then(|n| image.get(i..i + n - 4)) {
            out.put("cache_image", &with_sizes(sizes, block));
        }
    }
    for (sig, target) in [
        (&b"TREE"[..], "btree_v1"),
        (b"BTHD", "btree_v2"),
        (b"FRHP", "fractal_heap"),
        (b"HEAP", "local_heap"),
        (b"GCOL", "global_heap"),
        (b"SNOD", "symbol_table_node"),
    ] {
        for (i, w) in cut.windows(4).enumerate() {
            if w != sig {
                continue;
            }
            let mut v = vec![h5oxide_fuzz::sizes_byte(sizes)];
            v.extend_from_slice(&(i as u16).to_le_bytes());
            match target {
                // node type and rank from the node itself (byte 4: type)
                "btree_v1" => v.extend_from_slice(&[cut.get(i + 4).copied().unwrap_or(0), 2]),
                "fractal_heap" => v.push(0),
                "local_heap" => v.extend_from_slice(&[8, 0]),
                "global_heap" => v.extend_from_slice(&[1, 0]),
                _ => {}
            }
            v.extend_from_slice(cut);
            out.put(target, &v);
        }
    }
    for oh in headers(&file, bytes) {
        for m in &oh.messages {
            if matches!(
                m.kind,
                msg::LINK
                    | msg::LINK_INFO
                    | msg::GROUP_INFO
                    | msg::SYMBOL_TABLE
                    | msg::ATTRIBUTE_INFO
            ) {
                out.put("link_messages", &with_sizes(sizes, &m.data));
            }
        }
        if let Some(l) = oh.find(msg::LAYOUT) {
            vds_seed(out, sizes, image, &l.data);
        }
        if let (Some(l), Some(d)) = (oh.find(msg::LAYOUT), oh.find(msg::DATASPACE)) {
            if l.data.get(1) == Some(&2) || l.data.first() == Some(&4) || l.data.first() == Some(&5)
            {
                let mut v = vec![h5oxide_fuzz::sizes_byte(sizes)];
                v.extend_from_slice(&(l.data.len() as u16).to_le_bytes());
                v.extend_from_slice(&l.data);
                v.extend_from_slice(&(d.data.len() as u16).to_le_bytes());
                v.extend_from_slice(&d.data);
                v.push(u8::from(oh.find(msg::FILTER_PIPELINE).is_some()));
                v.extend_from_slice(cut);
                out.put("chunk_index", &v);
            }
        }
    }
    for oh in headers(&file, bytes) {
        if oh.addr < SMALL as u64 {
            let mut v = vec![h5oxide_fuzz::sizes_byte(sizes)];
            v.extend_from_slice(&(oh.addr as u16).to_le_bytes());
            v.extend_from_slice(&image[..image.len().min(SMALL)]);
            out.put("object_header", &v);
        }
        for m in &oh.messages {
            let target = match m.kind {
                msg::DATATYPE => "datatype",
                msg::DATASPACE => "dataspace",
                msg::LAYOUT => "layout",
                msg::FILTER_PIPELINE => "filter_pipeline",
                msg::ATTRIBUTE => "attribute",
                _ => continue,
            };
            if m.is_shared() {
                continue;
            }
            out.put(target, &with_sizes(sizes, &m.data));
            if m.kind == msg::ATTRIBUTE {
                let mut c = Cursor::new(&m.data, m.addr, "attribute message", sizes);
                if let Ok(a) = AttributeMessage::decode(&mut c) {
                    if !a.datatype_shared && a.datatype.len() <= u16::MAX as usize {
                        out.put("datatype", &with_sizes(sizes, &a.datatype));
                        let mut v = vec![h5oxide_fuzz::sizes_byte(sizes)];
                        v.extend_from_slice(&(a.datatype.len() as u16).to_le_bytes());
                        v.extend_from_slice(&a.datatype);
                        v.extend_from_slice(&a.data[..a.data.len().min(4096)]);
                        out.put("value", &v);
                    }
                    if !a.dataspace_shared {
                        out.put("dataspace", &with_sizes(sizes, &a.dataspace));
                    }
                }
            }
        }
    }
}

/// Seeds for the filter targets: a few sample buffers through each filter's encoder.
fn seed_filters(out: &mut Out) {
    let registry = h5oxide_filters::Registry::default();
    let ramp: Vec<u8> = (0..4096u32).map(|i| (i / 7) as u8).collect();
    let floats: Vec<u8> = (0..512)
        .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
        .collect();
    let samples: [&[u8]; 4] = [&[], &[0u8; 64], &ramp, &floats];
    for name in h5oxide_fuzz::TARGETS {
        let Some(id) = h5oxide_fuzz::filter_id(name) else {
            continue;
        };
        let Some(f) = registry.get(id) else { continue };
        for cd in [
            &[][..],
            &[4][..],
            &[1, 0, 4, 4096][..],
            &[2, 2, 0, 4096, 4, 1, 1][..],
        ] {
            for s in samples {
                if let Ok(enc) = f.encode(s, cd) {
                    out.put(name, &h5oxide_fuzz::FilterInput::encode(cd, s.len(), &enc));
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: h5oxide-fuzz-seeds CORPUS_DIR OUT_DIR");
        std::process::exit(2);
    }
    let corpus = Path::new(&args[1]);
    let mut out = Out {
        dir: PathBuf::from(&args[2]),
        written: 0,
    };
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut files = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 || cols[1] != "test" {
            continue;
        }
        let Ok(bytes) = std::fs::read(corpus.join(cols[0])) else {
            continue;
        };
        files += 1;
        // A decoder panic on a real file must not stop seeding (the fuzzers will find it).
        let _ =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| seed_file(&mut out, &bytes)));
    }
    seed_filters(&mut out);
    eprintln!(
        "seeds: {} new seed files from {files} corpus files",
        out.written
    );
}
