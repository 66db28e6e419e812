//! Why a whole file is refused. Problems of one feature are not errors: they travel with the
//! feature as a [`vivacampo_core::geometry::GeometryError`].

/// A file that cannot be read as a whole; [`Error::reason`] gives the API's word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not GeoJSON, KML, KMZ or a zip holding a Shapefile.
    #[error("the file is not GeoJSON, KML, KMZ or a zipped Shapefile")]
    UnknownFormat,
    /// The declared type names one format, the content is another.
    #[error("the file is declared as {claimed} but holds {found}")]
    NotWhatItClaims {
        claimed: &'static str,
        found: &'static str,
    },
    /// The file claims a format but its content is broken.
    #[error("the {format} file is broken: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
    /// The unzipped content is larger than allowed (zip bombs).
    #[error("the unzipped content is larger than {limit} bytes")]
    TooLargeUnzipped { limit: u64 },
    /// More features than one import may hold.
    #[error("the file holds more than {limit} features")]
    TooManyFeatures { limit: usize },
    /// More vertices over all features than one import may hold.
    #[error("the file holds more than {limit} vertices in all")]
    TooManyVertices { limit: usize },
    /// A Shapefile without its `.prj`: the coordinates cannot be placed.
    #[error("the Shapefile {layer} has no .prj file, so its coordinate system is unknown")]
    MissingPrj { layer: String },
    /// A `.prj` or GeoJSON `crs` naming a coordinate system this reader does not transform.
    #[error(
        "the coordinate system {name} is not supported; use WGS84, SIRGAS 2000 or their UTM zones"
    )]
    UnsupportedCrs { name: String },
    /// A Shapefile part is missing (`.shp` without `.dbf`, …).
    #[error("the Shapefile {layer} has no {part} file")]
    MissingPart { layer: String, part: &'static str },
    /// A zip with no Shapefile, or several layers and none chosen.
    #[error("the zip holds no Shapefile")]
    NoLayer,
    /// Several layers and none is the obvious one.
    #[error("the zip holds several layers ({names}); choose one with layer")]
    SeveralLayers { names: String },
    /// The chosen layer is not in the file.
    #[error("the zip holds no layer {name}")]
    NoSuchLayer { name: String },
}

impl Error {
    /// The word used in the API's `details.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::UnknownFormat => "unknown_format",
            Error::NotWhatItClaims { .. } => "format_mismatch",
            Error::Corrupt { .. } => "corrupt",
            Error::TooLargeUnzipped { .. } => "too_large_unzipped",
            Error::TooManyFeatures { .. } => "too_many_features",
            Error::TooManyVertices { .. } => "too_many_vertices",
            Error::MissingPrj { .. } => "missing_prj",
            Error::UnsupportedCrs { .. } => "unsupported_crs",
            Error::MissingPart { .. } => "missing_part",
            Error::NoLayer => "no_layer",
            Error::SeveralLayers { .. } => "several_layers",
            Error::NoSuchLayer { .. } => "no_such_layer",
        }
    }

    pub(crate) fn corrupt(format: &'static str, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            format,
            detail: detail.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
