//! One integration-test binary (one link instead of many): every test drives the
//! real wspipe binary over real sockets on 127.0.0.1.

mod chat;
mod common;
mod generated;
mod hardening;
mod interop;
mod late;
mod listen;
mod pipe;
mod protocol;
mod proxy;
mod repl;
mod send;
mod style;
mod tls;
