//! `fxsim verify`: compares RTL dumps with an export's golden images and
//! prints the first mismatches and a summary.
//!
//! Exit status: 0 when everything matches, 1 on mismatches
//! ([`MismatchesFound`]), 2 when an input cannot be read. Limitation: glue
//! only; pairing and comparison are the library's (`fxsim::verify`).

use fxsim::verify::{DumpFormat, VerifyRequest};
use std::path::PathBuf;

/// Arguments of `fxsim verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Directory written by `fxsim export` (with manifest.json).
    pub golden_dir: PathBuf,
    /// RTL dump: a file named after a golden file (any extension), or a
    /// directory of such files.
    pub rtl_dump: PathBuf,
    /// Compare only the files of this operator index.
    #[arg(long)]
    pub layer: Option<usize>,
    /// Golden file a single dump is compared with, when its name matches none.
    #[arg(long)]
    pub file: Option<String>,
    /// Mismatches to list.
    #[arg(long, default_value_t = 10)]
    pub max: usize,
    /// Dump format; by default decimal for .dec, .txt and .csv files, hex otherwise.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

/// `--format` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    /// `$readmemh` / `$writememh` text.
    Hex,
    /// One decimal element per line.
    Decimal,
}

/// The dumps differ from the golden vectors; the report is already printed.
#[derive(Debug)]
pub struct MismatchesFound;

impl std::fmt::Display for MismatchesFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the RTL dump differs from the golden vectors")
    }
}

impl std::error::Error for MismatchesFound {}

/// Runs `fxsim verify`: prints the report, then returns
/// [`MismatchesFound`] when anything differs.
pub fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let request = VerifyRequest {
        layer: args.layer,
        file: args.file.clone(),
        format: args.format.map(|format| match format {
            FormatArg::Hex => DumpFormat::Hex,
            FormatArg::Decimal => DumpFormat::Decimal,
        }),
        max: args.max,
    };
    let report = fxsim::verify::verify(&args.golden_dir, &args.rtl_dump, &request)?;
    eprint!("{}", report.skipped_notes());
    crate::emit(&report.to_text())?;
    if report.matches() {
        Ok(())
    } else {
        Err(MismatchesFound.into())
    }
}
