//! The FPGA device catalogue: DSP, block RAM, UltraRAM, LUT and flip-flop
//! counts of the parts a hardware description can name, and the DSP slice
//! types with their multiplier port widths.
//!
//! Limitation: the figures are whole-device totals from the AMD/Xilinx data
//! sheets (sources per part in docs/hardware-config.md). They ignore what a
//! shell, the processing system's interconnect or the place-and-route
//! margin takes, and give no clock rates or speed grades.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The DSP slice of a device family, which fixes the widths of its
/// hardware multiplier.
///
/// A hardware description may write the name in any case (`DSP48E1`, as
/// data sheets and reports print it, or `dsp48e1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DspType {
    /// 7-series slice: a 25 x 18 two's complement multiplier.
    Dsp48e1,
    /// UltraScale and UltraScale+ slice: a 27 x 18 two's complement
    /// multiplier.
    Dsp48e2,
}

impl DspType {
    /// Widths in bits of the multiplier's two input ports `(a, b)`, both
    /// two's complement.
    pub fn multiplier_widths(self) -> (u8, u8) {
        match self {
            DspType::Dsp48e1 => (25, 18),
            DspType::Dsp48e2 => (27, 18),
        }
    }

    /// Returns the name as written in a hardware description (`dsp48e1`).
    pub fn name(self) -> &'static str {
        match self {
            DspType::Dsp48e1 => "dsp48e1",
            DspType::Dsp48e2 => "dsp48e2",
        }
    }
}

impl<'de> Deserialize<'de> for DspType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<DspType, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.to_ascii_lowercase().as_str() {
            "dsp48e1" => Ok(DspType::Dsp48e1),
            "dsp48e2" => Ok(DspType::Dsp48e2),
            _ => Err(serde::de::Error::unknown_variant(
                &name,
                &["dsp48e1", "dsp48e2"],
            )),
        }
    }
}

impl fmt::Display for DspType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The programmable-logic resources of one FPGA part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Device {
    /// Part name without package and speed grade, lowercase (`xc7z020`).
    pub name: Cow<'static, str>,
    /// DSP slices.
    pub dsp: u32,
    pub dsp_type: DspType,
    /// 36 Kb block RAMs (each usable as two 18 Kb halves).
    pub bram36: u32,
    /// 288 Kb UltraRAM blocks (0 on parts without UltraRAM).
    pub uram: u32,
    /// 6-input LUTs.
    pub lut: u32,
    /// Flip-flops.
    pub ff: u32,
}

/// A catalogue part with the data sheet its figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub device: Device,
    /// Device family as AMD names it (`Zynq-7000`).
    pub family: &'static str,
    /// Document number of the data sheet the figures come from (`DS190`).
    pub source: &'static str,
}

const fn entry(
    name: &'static str,
    family: &'static str,
    source: &'static str,
    dsp_type: DspType,
    [dsp, bram36, uram, lut, ff]: [u32; 5],
) -> CatalogueEntry {
    CatalogueEntry {
        device: Device {
            name: Cow::Borrowed(name),
            dsp,
            dsp_type,
            bram36,
            uram,
            lut,
            ff,
        },
        family,
        source,
    }
}

/// The built-in parts, smallest family first. Figures are
/// `[dsp, bram36, uram, lut, ff]`; docs/hardware-config.md lists which of
/// them were checked against a second source.
pub static CATALOGUE: [CatalogueEntry; 7] = [
    entry(
        "xc7z010",
        "Zynq-7000",
        "DS190",
        DspType::Dsp48e1,
        [80, 60, 0, 17_600, 35_200],
    ),
    entry(
        "xc7z020",
        "Zynq-7000",
        "DS190",
        DspType::Dsp48e1,
        [220, 140, 0, 53_200, 106_400],
    ),
    entry(
        "xc7a100t",
        "Artix-7",
        "DS180",
        DspType::Dsp48e1,
        [240, 135, 0, 63_400, 126_800],
    ),
    entry(
        "xczu3eg",
        "Zynq UltraScale+",
        "DS891",
        DspType::Dsp48e2,
        [360, 216, 0, 70_560, 141_120],
    ),
    entry(
        "xczu7ev",
        "Zynq UltraScale+",
        "DS891",
        DspType::Dsp48e2,
        [1_728, 312, 96, 230_400, 460_800],
    ),
    entry(
        "xczu9eg",
        "Zynq UltraScale+",
        "DS891",
        DspType::Dsp48e2,
        [2_520, 912, 0, 274_080, 548_160],
    ),
    entry(
        "xcvu9p",
        "Virtex UltraScale+",
        "DS923",
        DspType::Dsp48e2,
        [6_840, 2_160, 960, 1_182_240, 2_364_480],
    ),
];

/// Looks a part up in the catalogue.
///
/// The match ignores ASCII case and anything from the first `-` on, so a
/// full Vivado part name such as `xczu9eg-ffvb1156-2-e` finds `xczu9eg`.
pub fn find_part(name: &str) -> Option<&'static CatalogueEntry> {
    let base = name.split('-').next().unwrap_or(name);
    CATALOGUE
        .iter()
        .find(|entry| entry.device.name.eq_ignore_ascii_case(base))
}

/// Lists the catalogue's part names, comma separated, for error messages.
pub fn known_parts() -> String {
    let names: Vec<&str> = CATALOGUE
        .iter()
        .map(|entry| entry.device.name.as_ref())
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_part_exact_and_full_vivado_name() {
        assert_eq!(find_part("xc7z020").unwrap().device.dsp, 220);
        assert_eq!(
            find_part("XCZU9EG-ffvb1156-2-e").unwrap().device.name,
            "xczu9eg"
        );
        assert_eq!(find_part("xc7z030"), None);
        assert_eq!(find_part(""), None);
    }

    #[test]
    fn catalogue_names_are_unique_and_lowercase() {
        for (index, entry) in CATALOGUE.iter().enumerate() {
            let name = entry.device.name.as_ref();
            assert_eq!(name, name.to_ascii_lowercase());
            assert!(!name.contains('-'), "{name}");
            let first = CATALOGUE
                .iter()
                .position(|other| other.device.name == entry.device.name);
            assert_eq!(first, Some(index), "{name} listed twice");
        }
    }

    #[test]
    fn catalogue_slice_type_follows_family() {
        for entry in &CATALOGUE {
            let expected = if entry.family.contains("UltraScale") {
                DspType::Dsp48e2
            } else {
                DspType::Dsp48e1
            };
            assert_eq!(entry.device.dsp_type, expected, "{}", entry.device.name);
        }
    }

    /// Both generations pack two flip-flops per LUT (7-series: 4 LUTs and 8
    /// flip-flops per slice; UltraScale+: 8 and 16 per CLB), so a figure
    /// that breaks the ratio is a typing error.
    #[test]
    fn catalogue_has_two_flip_flops_per_lut() {
        for entry in &CATALOGUE {
            assert_eq!(
                entry.device.ff,
                2 * entry.device.lut,
                "{}",
                entry.device.name
            );
        }
    }

    #[test]
    fn multiplier_widths_per_slice() {
        assert_eq!(DspType::Dsp48e1.multiplier_widths(), (25, 18));
        assert_eq!(DspType::Dsp48e2.multiplier_widths(), (27, 18));
    }

    #[test]
    fn known_parts_lists_every_entry() {
        let list = known_parts();
        for entry in &CATALOGUE {
            assert!(list.contains(entry.device.name.as_ref()));
        }
    }

    /// `dsp_type = "DSP48E1"`, as reports print the name, reads like
    /// `"dsp48e1"`; an unknown name is still rejected with the allowed ones.
    #[test]
    fn dsp_type_reads_in_any_case() {
        #[derive(Deserialize)]
        struct Part {
            dsp_type: DspType,
        }
        for (text, expected) in [
            ("dsp_type = \"DSP48E1\"", DspType::Dsp48e1),
            ("dsp_type = \"dsp48e1\"", DspType::Dsp48e1),
            ("dsp_type = \"Dsp48E2\"", DspType::Dsp48e2),
        ] {
            let part: Part = toml::from_str(text).unwrap();
            assert_eq!(part.dsp_type, expected, "{text}");
        }
        let error = toml::from_str::<Part>("dsp_type = \"DSP58\"")
            .err()
            .unwrap();
        assert!(error.to_string().contains("dsp48e1"), "{error}");
    }
}
