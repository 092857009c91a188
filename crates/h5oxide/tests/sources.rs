//! Files read from other sources than a path (`OpenOptions::open_source`): a `Read + Seek`
//! stream, a range-fetching function (what an object-store client offers) and a block cache in
//! front of it must read every sampled corpus file exactly as `File::open` does (canonical
//! documents equal), and a range source is only asked for the bytes a read needs.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use h5oxide::canonical::{dump, dump_file};
use h5oxide::storage::{BlockCache, RangeStorage, ReaderStorage};
use h5oxide::write::{DatasetOptions, FileWriter};
use h5oxide::OpenOptions;

mod interop;

use interop::corpus_dir as corpus;

fn range_over(bytes: Arc<Vec<u8>>, fetched: Arc<AtomicU64>) -> RangeStorage {
    let len = bytes.len() as u64;
    RangeStorage::new(len, move |at, n| {
        fetched.fetch_add(n as u64, Ordering::Relaxed);
        let at = usize::try_from(at).map_err(std::io::Error::other)?;
        bytes
            .get(at..at + n)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| std::io::Error::other("out of range"))
    })
}

#[test]
fn corpus_sample_reads_the_same_from_every_source() {
    let dir = corpus();
    let Ok(manifest) = std::fs::read_to_string(dir.join("MANIFEST.tsv")) else {
        eprintln!("no corpus at {}: skipped", dir.display());
        return;
    };
    let opts = OpenOptions::default();
    let mut checked = 0;
    for (i, line) in manifest.lines().skip(1).enumerate() {
        let Some(file) = line.split('\t').next() else {
            continue;
        };
        // every 4th file, bad/ ones included (same errors), at most 4 MiB
        let path = dir.join(file);
        if i % 4 != 0 || std::fs::metadata(&path).map_or(true, |m| m.len() > 4 << 20) {
            continue;
        }
        let (want, _) = dump(&path);
        let bytes = Arc::new(std::fs::read(&path).expect("corpus file"));
        let fetched = Arc::new(AtomicU64::new(0));
        let docs = [
            (
                "reader",
                opts.open_source(ReaderStorage::new(std::fs::File::open(&path).unwrap()).unwrap()),
            ),
            (
                "range",
                opts.open_source(range_over(bytes.clone(), fetched.clone())),
            ),
            (
                "cached range",
                opts.open_source(BlockCache::new(
                    range_over(bytes.clone(), fetched),
                    4096,
                    1 << 16,
                )),
            ),
        ];
        for (what, f) in docs {
            let got = match f {
                Ok(f) => dump_file(&f).0,
                // an open that fails must fail like File::open (canonical error document)
                Err(e) => h5oxide::canonical::walk::failure_doc(&e),
            };
            // External raw storage, external links and virtual dataset sources are found
            // relative to the file's path, which a source does not have.
            let dbg = format!("{want:?}");
            if got != want
                && (dbg.contains("\"external\": Array")
                    || dbg.contains("Str(\"external\")")
                    || dbg.contains("Str(\"virtual\")"))
            {
                continue;
            }
            assert_eq!(got, want, "{file} through the {what} source");
        }
        checked += 1;
    }
    assert!(checked > 150, "{checked} files");
}

#[test]
fn a_range_source_fetches_only_what_a_read_needs() -> Result<(), Box<dyn std::error::Error>> {
    let p = std::env::temp_dir().join(format!("h5oxide-sources-{}.h5", std::process::id()));
    let big: Vec<f64> = (0..4_000_000).map(|i| i as f64).collect();
    let mut f = FileWriter::create(&p)?;
    f.create_dataset("big", &big[..])?;
    f.create_dataset_with(
        "chunked",
        &big[..],
        DatasetOptions::new().chunks(&[100_000]).deflate(1),
    )?;
    f.create_dataset("small", &[1i32, 2, 3][..])?;
    f.close()?;
    let bytes = Arc::new(std::fs::read(&p)?);
    std::fs::remove_file(&p)?;
    let fetched = Arc::new(AtomicU64::new(0));
    let src = BlockCache::new(
        range_over(bytes.clone(), fetched.clone()),
        64 << 10,
        4 << 20,
    );
    let file = OpenOptions::default().open_source(src)?;
    assert_eq!(
        file.dataset("small")?
            .read::<i32>()?
            .into_raw_vec_and_offset()
            .0,
        [1, 2, 3]
    );
    let row = file
        .dataset("chunked")?
        .read_slice::<f64, _>(ndarray::s![2_500_000..2_500_010])?;
    assert_eq!(
        row.into_raw_vec_and_offset().0,
        (2_500_000..2_500_010).map(|i| i as f64).collect::<Vec<_>>()
    );
    let n = fetched.load(Ordering::Relaxed);
    assert!(
        n < 2 << 20,
        "{n} of {} bytes fetched for 3 + 10 elements",
        bytes.len()
    );
    // a whole read still gives every value
    let all = file.dataset("big")?.read::<f64>()?;
    assert_eq!(all.into_raw_vec_and_offset().0, big);
    Ok(())
}
