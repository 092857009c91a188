//! `Dataset::chunk_iter` over every dataset of the corpus's test files that `read_raw` reads:
//! the pieces, put back at their selections, must give exactly `read_raw`'s bytes (all layouts,
//! chunk indexes, filters, edge chunks, fill values, external storage). Non-chunked datasets are
//! cut into blocks of 24 bytes (at least one element) or 1/64 of their size, so most of them take
//! several blocks.

use h5oxide::{Dataset, File, Object};

mod interop;

use interop::corpus_dir as corpus;

/// Calls `f(file, name, dataset)` for every dataset of the corpus's test files (not `bad/`)
/// that opens and walks; false when there is no corpus.
fn each_corpus_dataset(mut f: impl FnMut(&str, &str, Dataset)) -> bool {
    let dir = corpus();
    let Ok(manifest) = std::fs::read_to_string(dir.join("MANIFEST.tsv")) else {
        eprintln!("no corpus at {}: skipped", dir.display());
        return false;
    };
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(&file), Some(&"test")) = (cols.first(), cols.get(1)) else {
            continue;
        };
        if file.starts_with("bad/") {
            continue;
        }
        let Ok(h) = File::open(dir.join(file)) else {
            continue;
        };
        let Ok(objects) = h.root().and_then(|g| g.walk()) else {
            continue;
        };
        for (name, obj) in objects {
            if let Object::Dataset(ds) = obj {
                f(file, &name, ds);
            }
        }
    }
    true
}

/// Datasets larger than this are skipped (time).
const MAX_BYTES: u64 = 16 << 20;

#[test]
fn chunk_iter_reassembles_read_raw_on_the_corpus() {
    let (mut datasets, mut pieces) = (0usize, 0usize);
    let mut failures = Vec::new();
    let found = each_corpus_dataset(|file, name, ds| {
        if ds.info().num_bytes().map_or(true, |n| n > MAX_BYTES) {
            return;
        }
        let Ok(want) = ds.read_raw() else { return };
        let es = ds.dtype().size() as u64;
        let dims: Vec<u64> = ds.shape().iter().map(|&d| d as u64).collect();
        let mut got = vec![0u8; want.len()];
        let mut covered = 0usize;
        let mut ok = true;
        // Several blocks per non-chunked dataset: 24 bytes, or 1/64 of a larger one.
        for piece in ds.chunk_iter_with((want.len() as u64 / 64).max(24)) {
            let (sel, bytes) = match piece {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{file}:{name}: {e}"));
                    ok = false;
                    break;
                }
            };
            pieces += 1;
            // Copy the piece's rows (innermost-axis runs) to their places.
            let rank = dims.len();
            let row = sel.count.last().copied().unwrap_or(1) as usize * es as usize;
            let nrows = bytes.len().checked_div(row).unwrap_or(0);
            for r in 0..nrows {
                // Coordinates of row r within the selection, then its linear offset.
                let mut rem = r as u64;
                let mut coord = vec![0u64; rank];
                for d in (0..rank.saturating_sub(1)).rev() {
                    coord[d] = sel.start[d] + rem % sel.count[d];
                    rem /= sel.count[d];
                }
                if rank > 0 {
                    coord[rank - 1] = sel.start[rank - 1];
                }
                let lin = coord
                    .iter()
                    .zip(&dims)
                    .fold(0u64, |acc, (&c, &n)| acc * n + c);
                let at = (lin * es) as usize;
                got[at..at + row].copy_from_slice(&bytes[r * row..(r + 1) * row]);
            }
            covered += bytes.len();
        }
        if !ok {
            return;
        }
        datasets += 1;
        if covered != want.len() || got != want {
            failures.push(format!(
                "{file}:{name}: pieces cover {covered} of {} bytes or differ",
                want.len()
            ));
        }
    });
    if !found {
        return;
    }
    eprintln!("chunk_iter corpus: {datasets} datasets, {pieces} pieces");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(datasets > 500, "only {datasets} datasets checked");
}

#[test]
fn read_chunk_raw_finds_every_stored_chunk_on_the_corpus() {
    // `read_chunk_raw(offset)` looks one chunk up in the index (every index type) by its true
    // grid position. Over every grid position of each chunked dataset (grids of at most 4096
    // positions), the chunks it finds must be exactly those `stored_chunks` lists (same filter
    // masks and bytes; `stored_chunks` reports libhdf5's offsets, which differ from the true
    // ones for some extensible-array indexes, so they are compared as multisets), and every
    // other position must give `None`.
    let (mut datasets, mut chunks, mut holes) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let found = each_corpus_dataset(|file, name, ds| {
        let Some(cdims) = ds.chunks() else { return };
        let Ok(stored) = ds.stored_chunks() else {
            return;
        };
        let shape: Vec<u64> = ds.shape().iter().map(|&d| d as u64).collect();
        let grid: Vec<u64> = shape
            .iter()
            .zip(&cdims)
            .map(|(s, c)| s.div_ceil(*c))
            .collect();
        let n = grid.iter().try_fold(1u64, |a, &g| a.checked_mul(g));
        if n.is_none_or(|n| n > 4096) {
            return;
        }
        let n = n.unwrap_or(0);
        // Chunks listed outside the current extent (a shrunk dataset, or libhdf5's offsets
        // of a swizzled extensible array) are not searched for: then the chunks found must
        // be some of those listed, else exactly those.
        let all_inside = stored
            .iter()
            .all(|r| r.offset.iter().zip(&shape).all(|(o, s)| o < s));
        let mut want: Vec<(u32, Vec<u8>)> = Vec::new();
        for r in &stored {
            match ds.stored_chunk_bytes(r) {
                Ok(b) => want.push((r.filter_mask, b)),
                Err(e) => failures.push(format!("{file}:{name}: {e}")),
            }
        }
        let mut got = Vec::new();
        for i in 0..n {
            let mut rem = i;
            let mut offset = vec![0u64; grid.len()];
            for d in (0..grid.len()).rev() {
                offset[d] = rem % grid[d] * cdims[d];
                rem /= grid[d];
            }
            match ds.read_chunk_raw(&offset) {
                Ok(Some(c)) => got.push(c),
                Ok(None) => holes += 1,
                Err(e) => failures.push(format!("{file}:{name} {offset:?}: {e}")),
            }
        }
        want.sort();
        got.sort();
        let mut rest = want.clone();
        let subset = got.iter().all(|g| match rest.iter().position(|w| w == g) {
            Some(i) => {
                rest.remove(i);
                true
            }
            None => false,
        });
        if !subset || (all_inside && got != want) {
            failures.push(format!(
                "{file}:{name}: {} chunks found by lookup, {} listed",
                got.len(),
                want.len()
            ));
        }
        datasets += 1;
        chunks += got.len();
    });
    if !found {
        return;
    }
    eprintln!("read_chunk_raw: {datasets} datasets, {chunks} chunks, {holes} holes");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        chunks > 1000 && holes > 10,
        "{chunks} chunks, {holes} holes"
    );
}
