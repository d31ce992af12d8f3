//! duxue-profile: the contract between duxue and a training platform.
//!
//! - [`types`] and [`operations`]: profile v1, the platform API described by `openapi.yaml`;
//! - [`client`]: a typed async client for it;
//! - [`catalog`]: the requirement catalog (`catalog.toml`);
//! - [`policy`]: a jurisdiction's numbers (`policies/*.toml`) and the application form.

pub mod application;
pub mod catalog;
pub mod client;
mod datafile;
pub mod operations;
pub mod policy;
pub mod types;

pub use application::ApplicationForm;
pub use catalog::{Catalog, Requirement, Verdict};
pub use client::{
    Auth, BROWSER_USER_AGENT, ClientConfig, ClientError, Exchange, MAX_RESPONSE_BYTES, Observer,
    ProfileClient, RawAnswer, UrlHost, VirtualClock, url_host,
};
pub use datafile::DataFileError;
pub use operations::{OPERATIONS, Operation, Security, operation};
pub use policy::Policy;
pub use types::*;

/// The OpenAPI 3.1 document of profile v1, as shipped.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");
