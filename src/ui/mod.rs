//! What a person sees on a terminal: colours, progress, the REPL and chat screens.

pub mod chat;
pub mod history;
pub mod progress;
pub mod repl;
pub mod style;
pub mod terminal;

pub use history::history_path;
