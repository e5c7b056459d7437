//! One integration-test binary (one link instead of many): every test drives the
//! real wspipe binary over real sockets on 127.0.0.1.

mod common;
mod pipe;
mod repl;
mod send;
