//! Colour and escapes: none reach a pipe, NO_COLOR and --color are obeyed on a terminal.
