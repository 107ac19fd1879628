//! One scripted answer of the receiver.

use std::time::Duration;

/// An answer the [`Receiver`](crate::Receiver) gives to one export request: a status code,
/// optionally a `Retry-After` header, optionally after a delay, or no answer at all (a hang).
///
/// Success answers (2xx) carry an empty `ExportTraceServiceResponse` in the request's
/// encoding, as a collector does; other answers carry a short text body.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_tests::Reply;
///
/// let throttled = Reply::status(429).retry_after(Duration::from_secs(1));
/// assert_eq!(throttled.code(), 429);
/// assert_eq!(throttled.retry_after_seconds(), Some(1));
/// assert_eq!(Reply::from(200), Reply::ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    retry_after_seconds: Option<u64>,
    delay_millis: u64,
    hang: bool,
}

impl Reply {
    /// An answer with this status code. A code HTTP cannot carry (outside `100..=999`) is
    /// answered as 500.
    pub const fn status(code: u16) -> Self {
        Reply {
            code,
            retry_after_seconds: None,
            delay_millis: 0,
            hang: false,
        }
    }

    /// No answer ever: the request is recorded (as status 0) and the connection left open
    /// until the client gives up or the receiver stops.
    ///
    /// ```
    /// let hang = hivetrace_tests::Reply::hang();
    /// assert!(hang.hangs() && !hang.is_success());
    /// ```
    pub const fn hang() -> Self {
        Reply {
            code: 0,
            retry_after_seconds: None,
            delay_millis: 0,
            hang: true,
        }
    }

    /// Answers only after `delay` (a slow backend).
    ///
    /// ```
    /// use std::time::Duration;
    /// let slow = hivetrace_tests::Reply::ok().delayed(Duration::from_millis(150));
    /// assert_eq!(slow.delay(), Duration::from_millis(150));
    /// ```
    pub const fn delayed(mut self, delay: Duration) -> Self {
        self.delay_millis = delay.as_millis() as u64;
        self
    }

    /// Whether the receiver never answers.
    pub const fn hangs(&self) -> bool {
        self.hang
    }

    /// How long the receiver waits before answering.
    pub const fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_millis)
    }

    /// `200 OK`.
    pub const fn ok() -> Self {
        Reply::status(200)
    }

    /// Adds `Retry-After` in whole seconds (the delay is rounded down).
    pub const fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after_seconds = Some(delay.as_secs());
        self
    }

    /// The status code.
    pub const fn code(&self) -> u16 {
        self.code
    }

    /// The `Retry-After` value in seconds, if any.
    pub const fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after_seconds
    }

    /// Whether the code is a success (2xx): the exporter's data was accepted.
    pub const fn is_success(&self) -> bool {
        !self.hang && self.code >= 200 && self.code < 300
    }
}

impl Default for Reply {
    fn default() -> Self {
        Reply::ok()
    }
}

impl From<u16> for Reply {
    fn from(code: u16) -> Self {
        Reply::status(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_2xx_only() {
        assert!(Reply::status(200).is_success());
        assert!(Reply::status(204).is_success());
        assert!(!Reply::status(199).is_success());
        assert!(!Reply::status(300).is_success());
        assert!(!Reply::status(503).is_success());
    }

    #[test]
    fn retry_after_rounds_down_to_seconds() {
        let reply = Reply::status(503).retry_after(Duration::from_millis(2_900));
        assert_eq!(reply.retry_after_seconds(), Some(2));
    }
}
