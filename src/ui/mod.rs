//! What a person sees on a terminal: colours, progress, the REPL and chat screens.

pub mod progress;
pub mod style;
