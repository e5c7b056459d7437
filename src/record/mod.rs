//! Records: how input becomes messages and how events become output.

pub mod event;
pub mod feed;
pub mod formats;
pub mod input;
pub mod output;
pub mod sanitize;

pub use input::{RecordFormat, Source, spawn_reader};
pub use output::{OutputOptions, OutputWriter};
