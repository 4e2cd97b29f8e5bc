//! The digest-gated deploy: fingerprint, build, push, gate, update, record. The decisions are
//! pure functions in [`plan`]; [`run`] carries them out through the `aws` and `docker` clients
//! and reports every step as an [`run::Event`].

pub mod context;
pub mod plan;
pub mod run;
