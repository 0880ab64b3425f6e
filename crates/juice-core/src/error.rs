//! The one error type of the core. Every variant names the bad value, so the
//! message that reaches a JavaScript user is actionable without a stack trace.

use std::fmt;

/// A stable machine-readable code travels with every error so that the
/// TypeScript layer can map it onto a named error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A URI that libzmq cannot connect to or bind, or that we reject up front.
    InvalidUri,
    /// A well-formed endpoint that cannot be bound (in use, not a local address, no permission):
    /// a fact about the machine, not about the URI.
    Bind,
    /// A type name or topic that cannot be put on the wire.
    InvalidArgument,
    /// The object was closed before the call.
    Closed,
    /// Nothing arrived (or could be sent) before the deadline.
    Timeout,
    /// libzmq reported an error we do not map more precisely.
    Zmq,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidUri => "ERR_JUICE_INVALID_URI",
            ErrorCode::Bind => "ERR_JUICE_BIND",
            ErrorCode::InvalidArgument => "ERR_JUICE_INVALID_ARGUMENT",
            ErrorCode::Closed => "ERR_JUICE_CLOSED",
            ErrorCode::Timeout => "ERR_JUICE_TIMEOUT",
            ErrorCode::Zmq => "ERR_JUICE_ZMQ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn closed(what: &str) -> Self {
        Error::new(ErrorCode::Closed, format!("{what} is closed"))
    }

    pub fn zmq(context: &str, err: zmq::Error) -> Self {
        Error::new(ErrorCode::Zmq, format!("{context}: {err}"))
    }

    /// Adds what the user can do about it to the message.
    pub fn with_hint(mut self, hint: &str) -> Self {
        self.message = format!("{} ({hint})", self.message);
        self
    }

    pub fn invalid_arg(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
