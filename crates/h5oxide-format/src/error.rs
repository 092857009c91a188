//! The error type of every decoder in this crate.
//!
//! One variant per kind of violation, each carrying the structure being decoded and its file
//! address, so a message says exactly where a file is broken. Unsupported features are a separate
//! kind from corruption, and resource limits a third (see [`crate::Limits`]).

/// Result of a decoding step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while reading an HDF5 file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A structure needs more bytes than the buffer or file holds.
    #[error(
        "{structure} at address {addr:#x}: truncated (needs {needed} bytes, {available} available)"
    )]
    Truncated {
        /// Structure being decoded.
        structure: &'static str,
        /// File address of the structure.
        addr: u64,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// A structure's signature (`TREE`, `HEAP`, `OHDR`, ...) is wrong.
    #[error("{structure} at address {addr:#x}: bad signature")]
    BadSignature {
        /// Structure expected there.
        structure: &'static str,
        /// File address.
        addr: u64,
    },
    /// A Jenkins lookup3 checksum does not match.
    #[error("{structure} at address {addr:#x}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// Structure being verified.
        structure: &'static str,
        /// File address.
        addr: u64,
        /// Checksum stored in the file.
        stored: u32,
        /// Checksum computed over the bytes.
        computed: u32,
    },
    /// A field holds a value the specification does not allow.
    #[error("{structure} at address {addr:#x}: {reason}")]
    Corrupt {
        /// Structure being decoded.
        structure: &'static str,
        /// File address.
        addr: u64,
        /// What is wrong.
        reason: String,
    },
    /// A structure version this implementation does not know.
    #[error("unsupported {structure} version {version}")]
    UnsupportedVersion {
        /// Structure.
        structure: &'static str,
        /// Version found.
        version: u32,
    },
    /// A feature of the format (or a filter) that is not implemented yet.
    #[error("unsupported: {feature}")]
    Unsupported {
        /// The feature, named so a user can look it up (e.g. `filter 32013 (zfp)`).
        feature: String,
    },
    /// A size or count in the file exceeds a configured [`crate::Limits`] budget.
    #[error("limit exceeded: {what} ({requested} > {limit})")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// What the file asked for.
        requested: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An address range lies outside the file.
    #[error("{structure}: address range {addr:#x}+{len} is outside the file (size {size})")]
    OutOfBounds {
        /// Structure being read.
        structure: &'static str,
        /// Start address (relative to the base address).
        addr: u64,
        /// Length.
        len: u64,
        /// Addressable size of the file.
        size: u64,
    },
    /// A walk over links, B-tree nodes or continuation blocks revisited a node or went too deep.
    #[error("{structure} at address {addr:#x}: cycle or excessive depth")]
    Cycle {
        /// Structure being walked.
        structure: &'static str,
        /// Address where the walk stopped.
        addr: u64,
    },
    /// A path, link, attribute or member does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation does not apply (wrong object kind, type mismatch, bad argument).
    #[error("{0}")]
    Invalid(String),
    /// The underlying storage failed.
    #[error("I/O error: {0}")]
    Io(String),
}

impl Error {
    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(feature: impl Into<String>) -> Self {
        Error::Unsupported {
            feature: feature.into(),
        }
    }

    /// Shorthand for [`Error::Corrupt`].
    pub fn corrupt(structure: &'static str, addr: u64, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            structure,
            addr,
            reason: reason.into(),
        }
    }

    /// A short stable name of the error's kind, for tests and for mapping to other error types.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "truncated",
            Error::BadSignature { .. } => "bad_signature",
            Error::Checksum { .. } => "checksum",
            Error::Corrupt { .. } => "corrupt",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::Unsupported { .. } => "unsupported",
            Error::Limit { .. } => "limit",
            Error::OutOfBounds { .. } => "out_of_bounds",
            Error::Cycle { .. } => "cycle",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid",
            Error::Io(_) => "io",
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
