//! tmp
pub use hivetrace_core::*;
