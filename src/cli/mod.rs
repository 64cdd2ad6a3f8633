//! Subcommands of the `fxsim` binary that need more than a few lines of
//! glue. Each parses its arguments into a settings type, calls the library,
//! and formats the result; the work itself lives in the library.

pub mod accum;
pub mod estimate;
pub mod export;
pub mod limits;
pub mod progress;
pub mod run;
pub mod sweep;
pub mod verify;
