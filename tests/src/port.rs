//! A local port that refuses connections.

use std::net::{Ipv4Addr, TcpListener};

/// A port on `127.0.0.1` that nothing listens on: bound by the OS, read, then released.
///
/// Connections to it are refused at once, which makes an unreachable endpoint without waiting
/// for a network timeout. Another process could take the port in between, which is unlikely
/// enough for tests (the OS hands out ephemeral ports in rotation).
///
/// ```
/// let port = hivetrace_tests::closed_port();
/// assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
/// ```
///
/// # Panics
///
/// If no local port can be bound.
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("binding 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("a bound listener has a local address")
        .port()
}
