//! The crate's one error type.

/// Everything that can go wrong in the raster engine. Hostile or damaged input always ends
/// here, never in a panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Sans-IO parsing needs more of the file: fetch `start..end` and call again.
    #[error("need bytes {start}..{end} of the file")]
    NeedBytes { start: u64, end: u64 },
    #[error("not a TIFF file")]
    NotTiff,
    #[error("corrupt TIFF: {0}")]
    Corrupt(String),
    #[error("unsupported TIFF: {0}")]
    Unsupported(String),
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("cannot decompress chunk {chunk}: {reason}")]
    Decode { chunk: usize, reason: String },
    #[error("unsupported CRS: EPSG:{0}")]
    UnsupportedCrs(u32),
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("PNG encoding: {0}")]
    Png(String),
    /// The cause is the whole message (a `{0}` here would print it again through `source()`).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(msg.into())
}
