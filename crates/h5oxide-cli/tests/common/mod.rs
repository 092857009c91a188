//! What the CLI's integration tests share.

use std::path::{Path, PathBuf};

/// The `shared` folder: `H5OXIDE_SHARED` (which must hold the corpus), else `../shared` from
/// the workspace root or the first ancestor's `shared/` with `corpus/MANIFEST.tsv`.
pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("H5OXIDE_SHARED") {
        let p = PathBuf::from(p);
        assert!(
            p.join("corpus/MANIFEST.tsv").is_file(),
            "H5OXIDE_SHARED={} has no corpus/MANIFEST.tsv",
            p.display()
        );
        return Some(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let mut candidates = vec![root.join("../shared")];
    candidates.extend(root.ancestors().skip(1).map(|a| a.join("shared")));
    candidates
        .into_iter()
        .find(|c| c.join("corpus/MANIFEST.tsv").is_file())
}
