//! Errors of the media generators and the verifier.

/// What can go wrong when reading or judging an image.
#[derive(thiserror::Error, Debug)]
pub enum MediaError {
    /// The bytes are not a JPEG or PNG image.
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// The image is too small to hold a face.
    #[error("image too small: {width}x{height}")]
    TooSmall {
        /// width in pixels
        width: u32,
        /// height in pixels
        height: u32,
    },
    /// No face (or not all of its landmarks) could be found.
    #[error("no face found: {0}")]
    NoFace(String),
    /// No ID card could be found in the image.
    #[error("no ID card found: {0}")]
    NoCard(String),
    /// A liveness answer with no frames (or far too few).
    #[error("too few frames: {0}")]
    TooFewFrames(usize),
    /// A stored face template could not be read.
    #[error("bad template: {0}")]
    BadTemplate(String),
    /// Writing a labelled set failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Writing a manifest failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
