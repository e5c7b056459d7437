//! Connection hardening end to end: keepalive, reconnection, size limits, signals
//! and memory bounds, each against a real peer on 127.0.0.1.
