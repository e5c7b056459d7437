//! `wspipe chat` end to end: clients through `wspipe listen --broadcast`, rooms, the
//! wire format, typing indicators in a pty, and reconnection across a server restart.
