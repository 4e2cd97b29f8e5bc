//! lambdactl as a library: the layers of DESIGN.md, top to bottom. The binary in `main.rs` only
//! parses the command line and hands over to [`cli`].

pub mod cli;
pub mod ui;

pub mod app;

pub mod pipeline;

pub mod aws;
pub mod docker;

pub mod config;
pub mod model;
pub mod text;

pub mod sandbox;
