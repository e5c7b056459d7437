//! What a person sees on a terminal: colours, progress, the REPL and chat screens.

pub mod chat_screen;
pub mod history;
pub mod interactive;
pub mod progress;
pub mod repl;
pub mod style;

pub use history::history_path;
