//! The resource estimate as a user varies the hardware description: every
//! mapping setting moves the figures it should, and the fit message names
//! what is over.
//!
//! The expected figures follow the model in docs/resources.md; they pin the
//! model, not a synthesis result.

use fxsim::hw::HwConfig;
use fxsim::resources::multiplier::{MultiplierKind, SharedOperand};
use fxsim::resources::{estimate, Resource, ResourceReport};
use std::path::Path;

fn hw(text: &str) -> HwConfig {
    HwConfig::from_toml_str(text, "test.toml").unwrap_or_else(|error| panic!("{error}"))
}

fn report(text: &str) -> ResourceReport {
    estimate(&hw(text), None)
}

fn tiny_graph() -> fxsim::model::Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny/model.tflite");
    fxsim::import::tflite::read_file(&path).unwrap()
}

fn bram_sites(report: &ResourceReport) -> f64 {
    report.totals.bram36_sites()
}

fn buffer_word_bits(report: &ResourceReport, name: &str) -> u32 {
    report
        .buffers
        .iter()
        .find(|buffer| buffer.buffer.name() == name)
        .map(|buffer| buffer.word_bits)
        .unwrap()
}

fn ppu_dsps(report: &ResourceReport) -> u64 {
    report.ppu.multiplier.as_ref().map_or(0, |plan| plan.dsps)
}

/// The default 16 x 16 int8 array needs 256 DSP48E1 for its products and
/// 64 for the PPU's 32 x 32 bit requantisation multipliers, more than the
/// default part's 220.
#[test]
fn default_design_does_not_fit_xc7z020() {
    let report = report("");
    assert_eq!(report.part, "xc7z020");
    assert_eq!(report.array.multiplier.dsps, 256);
    assert_eq!(ppu_dsps(&report), 64);
    assert!(!report.fits);
    assert_eq!(
        report.message,
        "does not fit: needs 320 DSP48E1, xc7z020 has 220"
    );
    assert_eq!(report.usage.len(), 5);
}

#[test]
fn small_array_fits_xc7z020() {
    let report = report("[array]\nrows = 8\ncols = 8\n");
    assert!(report.fits, "{}", report.message);
    assert!(
        report.message.starts_with("fits xc7z020 (fullest: "),
        "{}",
        report.message
    );
}

#[test]
fn rows_scale_array_dsps_and_logic() {
    let small = report("[array]\nrows = 8\ncols = 8\n");
    let tall = report("[array]\nrows = 16\ncols = 8\n");
    assert_eq!(small.array.multiplier.dsps, 64);
    assert_eq!(tall.array.multiplier.dsps, 128);
    assert!(tall.totals.ff > small.totals.ff);
    // The input word is one activation per row.
    assert_eq!(buffer_word_bits(&small, "input"), 64);
    assert_eq!(buffer_word_bits(&tall, "input"), 128);
}

#[test]
fn cols_scale_array_and_ppu_lanes() {
    let narrow = report("[array]\nrows = 8\ncols = 8\n");
    let wide = report("[array]\nrows = 8\ncols = 16\n");
    assert_eq!(wide.array.multiplier.dsps, 128);
    assert_eq!(narrow.ppu.lanes, 8);
    assert_eq!(wide.ppu.lanes, 16);
    assert_eq!(ppu_dsps(&wide), 2 * ppu_dsps(&narrow));
    assert_eq!(buffer_word_bits(&wide, "weight"), 128);
}

#[test]
fn activation_width_changes_registers_and_input_word() {
    let int8 = report("[datapath]\nactivation = \"int8\"\n");
    let int16 = report("[datapath]\nactivation = \"int16\"\n");
    // A 17 x 8 bit product still fits one DSP48E1 (25 x 18).
    assert_eq!(int16.array.multiplier.first.bits, 17);
    assert_eq!(int16.array.multiplier.dsps, int8.array.multiplier.dsps);
    assert!(int16.totals.ff > int8.totals.ff);
    assert_eq!(
        buffer_word_bits(&int16, "input"),
        2 * buffer_word_bits(&int8, "input")
    );
    assert_eq!(
        buffer_word_bits(&int16, "output"),
        2 * buffer_word_bits(&int8, "output")
    );
}

/// The weight register of a PE with its own DSP is the slice's B
/// register, so a narrower weight saves no flip-flops there. With LUT
/// multipliers it is fabric, `B` flip-flops per PE.
#[test]
fn weight_width_changes_weight_word_and_fabric_registers() {
    let int8 = report("[datapath]\nweight = \"int8\"\n");
    let int4 = report("[datapath]\nweight = \"int4\"\n");
    assert_eq!(int4.array.multiplier.second.bits, 4);
    assert_eq!(int4.array.logic.ffs, int8.array.logic.ffs);
    let lut_multipliers =
        "[array]\nlut_multiplier_max_bits = 9\n[datapath]\nzero_point = \"fold\"\n";
    let lut_int8 = report(&format!("{lut_multipliers}weight = \"int8\"\n"));
    let lut_int4 = report(&format!("{lut_multipliers}weight = \"int4\"\n"));
    assert_eq!(lut_int8.array.multiplier.kind, MultiplierKind::Lut);
    assert_eq!(lut_int8.array.logic.ffs - lut_int4.array.logic.ffs, 256 * 4);
    assert_eq!(
        buffer_word_bits(&int4, "weight"),
        buffer_word_bits(&int8, "weight") / 2
    );
}

#[test]
fn unsigned_weights_need_sign_bit_on_dsp_port() {
    let unsigned = report("[datapath]\nweight = \"uint8\"\n");
    assert_eq!(unsigned.array.multiplier.second.port_bits(), 9);
}

#[test]
fn accumulator_bits_change_ppu_dsps_and_fabric() {
    let acc32 = report("[datapath]\naccumulator = { bits = 32 }\n");
    let acc24 = report("[datapath]\naccumulator = { bits = 24 }\n");
    let acc64 = report("[datapath]\naccumulator = { bits = 64 }\n");
    // The tflite requantiser multiplies the accumulator by a 32-bit
    // multiplier: 32 x 32 takes 4 DSP48E1, 24 x 32 takes 2.
    assert_eq!(ppu_dsps(&acc32), 16 * 4);
    assert_eq!(ppu_dsps(&acc24), 16 * 2);
    assert_eq!(
        buffer_word_bits(&acc24, "accumulator"),
        16 * 24,
        "one accumulator per column"
    );
    // Up to 48 bits the partial-sum adder is the DSP's post-adder; a 64-bit
    // accumulator moves adders and registers into the fabric.
    assert!(acc64.array.logic.luts > acc32.array.logic.luts);
    assert!(acc64.array.logic.ffs > acc32.array.logic.ffs);
    assert_eq!(acc24.array.logic.luts, acc32.array.logic.luts);
}

#[test]
fn saturation_adds_clamp_logic() {
    let wrap = report("[datapath]\naccumulator = { bits = 20, overflow = \"wrap\" }\n");
    let saturate = report("[datapath]\naccumulator = { bits = 20, overflow = \"saturate\" }\n");
    // A clamp of 20 + 2 * 5 LUTs in every PE.
    assert_eq!(saturate.array.logic.luts - wrap.array.logic.luts, 256 * 30);
    // The clamp sits between the DSP's adder and the partial-sum register,
    // so the 15 rows that pass a sum down register it in fabric.
    assert_eq!(
        saturate.array.logic.ffs - wrap.array.logic.ffs,
        15 * 16 * 20
    );
}

#[test]
fn requant_mode_changes_ppu_dsps() {
    let tflite = report("[datapath]\nrequant = { mode = \"tflite\" }\n");
    let fixed = report("[datapath]\nrequant = { mode = \"fixed\", multiplier_bits = 16 }\n");
    let shift = report("[datapath]\nrequant = { mode = \"shift\" }\n");
    assert_eq!(ppu_dsps(&tflite), 16 * 4);
    assert_eq!(ppu_dsps(&fixed), 16 * 2);
    assert_eq!(ppu_dsps(&shift), 0);
    assert!(shift.ppu.multiplier.is_none());
}

#[test]
fn dsp_packing_halves_array_dsps_on_dsp48e2() {
    let base = "[device]\npart = \"xczu9eg\"\n[array]\nrows = 16\ncols = 16\n";
    let plain = report(base);
    let packed = report(&format!("{base}dsp_packing = true\n"));
    assert_eq!(plain.array.multiplier.dsps, 256);
    assert_eq!(packed.array.multiplier.dsps, 128);
    assert_eq!(
        packed.array.multiplier.kind,
        MultiplierKind::PackedDsp {
            shared: SharedOperand::Activation
        }
    );
    assert_eq!(plain.totals.dsp - packed.totals.dsp, 128);
    assert!(
        packed.array.logic.luts > plain.array.logic.luts,
        "packed pairs add in fabric"
    );
}

#[test]
fn dsp_packing_does_nothing_on_dsp48e1() {
    let base = "[device]\npart = \"xc7z020\"\n[array]\nrows = 8\ncols = 8\n";
    let plain = report(base);
    let packed = report(&format!("{base}dsp_packing = true\n"));
    assert_eq!(packed.totals, plain.totals);
    assert!(
        packed
            .notes
            .iter()
            .any(|note| note.contains("dsp_packing has no effect") && note.contains("DSP48E1")),
        "{:?}",
        packed.notes
    );
}

#[test]
fn dsp_packing_rejects_wide_weights() {
    let text = "[device]\npart = \"xczu9eg\"\n[array]\ndsp_packing = true\n\
                [datapath]\nweight = \"int12\"\n";
    let wide = report(text);
    assert_eq!(wide.array.multiplier.dsps, 256);
    assert!(
        wide.notes.iter().any(|note| note.contains("pre-adder")),
        "{:?}",
        wide.notes
    );
}

#[test]
fn output_stationary_packs_too() {
    let text = "[device]\npart = \"xczu9eg\"\n[array]\nrows = 8\ncols = 6\n\
                dataflow = \"output-stationary\"\ndsp_packing = true\n";
    let packed = report(text);
    assert_eq!(packed.array.multiplier.dsps, 8 * 3);
}

#[test]
fn four_bit_lut_multipliers_use_no_array_dsps() {
    let text = "[array]\nlut_multiplier_max_bits = 4\n\
                [datapath]\nactivation = \"int4\"\nweight = \"int4\"\nzero_point = \"fold\"\n";
    let lut = report(text);
    assert_eq!(lut.array.multiplier.kind, MultiplierKind::Lut);
    assert_eq!(lut.array.multiplier.dsps, 0);
    // Three 8-bit adders sum the four partial products of a 4 x 4 product.
    assert_eq!(lut.array.multiplier.luts, 256 * 3 * 8);

    let all_lut = report(&format!("{text}requant = {{ mode = \"shift\" }}\n"));
    assert_eq!(
        all_lut.totals.dsp, 0,
        "shift requantisation needs no multiplier"
    );
}

#[test]
fn lut_multiplier_threshold_changes_dsps() {
    let datapath = "[datapath]\nactivation = \"int4\"\nweight = \"int4\"\nzero_point = \"fold\"\n";
    let below = report(&format!("[array]\nlut_multiplier_max_bits = 3\n{datapath}"));
    let at = report(&format!("[array]\nlut_multiplier_max_bits = 4\n{datapath}"));
    assert_eq!(below.array.multiplier.dsps, 256);
    assert_eq!(at.array.multiplier.dsps, 0);
    assert!(at.totals.lut > below.totals.lut);
}

#[test]
fn zero_point_subtract_widens_activation_operand() {
    let datapath = "[datapath]\nactivation = \"int4\"\nweight = \"int4\"\n";
    let subtract = report(&format!(
        "[array]\nlut_multiplier_max_bits = 4\n{datapath}zero_point = \"subtract\"\n"
    ));
    let fold = report(&format!(
        "[array]\nlut_multiplier_max_bits = 4\n{datapath}zero_point = \"fold\"\n"
    ));
    assert_eq!(subtract.array.multiplier.first.bits, 5);
    assert_eq!(fold.array.multiplier.first.bits, 4);
    // x - zx is 5 bits, above the threshold, so subtract uses DSPs.
    assert_eq!(subtract.array.multiplier.dsps, 256);
    assert_eq!(fold.array.multiplier.dsps, 0);
    assert!(
        subtract
            .notes
            .iter()
            .any(|note| note.contains("zero_point = \"fold\"")),
        "{:?}",
        subtract.notes
    );
}

#[test]
fn zero_point_subtract_adds_row_subtractors() {
    let subtract = report("[datapath]\nzero_point = \"subtract\"\n");
    let fold = report("[datapath]\nzero_point = \"fold\"\n");
    // 16 subtractors of 9 bits, and the 9-bit operand is one bit wider than
    // the 8-bit one: one more zeroing LUT per PE (256), one more bit in the
    // 13 skew chains of 3 or more stages (SRLs) and in the 3 skew stages of
    // rows 1 and 2 (flip-flops), and in the 16 x 15 PEs that pass the
    // activation to the right.
    assert_eq!(
        subtract.array.logic.luts - fold.array.logic.luts,
        16 * 9 + 256 + 13
    );
    assert_eq!(
        subtract.array.logic.ffs - fold.array.logic.ffs,
        16 * 9 + 3 + 16 * 15
    );
}

#[test]
fn double_buffering_doubles_bram() {
    let single = report("[buffers]\ndouble_buffered = false\n");
    let double = report("[buffers]\ndouble_buffered = true\n");
    assert_eq!(bram_sites(&double), 2.0 * bram_sites(&single));
    assert!(bram_sites(&single) > 0.0);
    for (one, two) in single.buffers.iter().zip(&double.buffers) {
        assert_eq!(two.bram36, 2 * one.bram36, "{:?}", one.buffer);
        assert_eq!(two.bram18, 2 * one.bram18, "{:?}", one.buffer);
    }
}

#[test]
fn buffer_sizes_change_bram() {
    let small = report("[buffers]\ninput_kib = 16\n");
    let large = report("[buffers]\ninput_kib = 128\n");
    let input = |report: &ResourceReport| report.buffers[0].bram36 + report.buffers[0].bram18;
    assert!(input(&large) > input(&small));
    assert!(bram_sites(&large) > bram_sites(&small));
    for kib in ["weight_kib", "accumulator_kib", "output_kib"] {
        let base = report(&format!("[buffers]\n{kib} = 16\n"));
        let grown = report(&format!("[buffers]\n{kib} = 256\n"));
        assert!(bram_sites(&grown) > bram_sites(&base), "{kib}");
    }
}

#[test]
fn uram_moves_buffers_where_part_has_it() {
    let base = "[device]\npart = \"xczu7ev\"\n[buffers]\ninput_kib = 256\nweight_kib = 256\n";
    let bram = report(&format!("{base}uram = false\n"));
    let uram = report(&format!("{base}uram = true\n"));
    assert_eq!(bram.totals.uram, 0);
    assert!(uram.totals.uram > 0);
    assert!(bram_sites(&uram) < bram_sites(&bram));
    let usage = uram.usage_of(Resource::Uram).unwrap();
    assert_eq!(usage.available, 96);
}

#[test]
fn uram_has_no_effect_without_ultraram() {
    let bram = report("[buffers]\nuram = false\n");
    let uram = report("[buffers]\nuram = true\n");
    assert_eq!(uram.totals, bram.totals);
    assert!(
        uram.notes
            .iter()
            .any(|note| note.contains("xc7z020 has no UltraRAM")),
        "{:?}",
        uram.notes
    );
}

#[test]
fn part_changes_availability_and_fit() {
    let design = "[array]\nrows = 16\ncols = 16\n";
    let z020 = report(&format!("[device]\npart = \"xc7z020\"\n{design}"));
    let z010 = report(&format!("[device]\npart = \"xc7z010\"\n{design}"));
    assert_eq!(z020.totals, z010.totals);
    assert_eq!(z020.usage_of(Resource::Dsp).unwrap().available, 220);
    assert_eq!(z010.usage_of(Resource::Dsp).unwrap().available, 80);
    assert!(!z010.fits);
}

#[test]
fn oversized_design_says_it_does_not_fit() {
    let text = "[device]\npart = \"xc7z010\"\n[array]\nrows = 64\ncols = 64\n\
                [datapath]\nactivation = \"int16\"\nweight = \"int16\"\n\
                [buffers]\nweight_kib = 128\naccumulator_kib = 64\noutput_kib = 64\n";
    let report = report(text);
    assert!(!report.fits);
    assert!(
        report.message.starts_with("does not fit: needs "),
        "{}",
        report.message
    );
    let dsps = report.totals.dsp;
    let expected = format!("needs {dsps} DSP48E1, xc7z010 has 80");
    assert!(report.message.contains(&expected), "{}", report.message);
}

#[test]
fn inline_part_without_dsps_reports_no_percent() {
    let text = "[device]\npart = { name = \"fabric-only\", dsp = 0, dsp_type = \"dsp48e1\", \
                bram36 = 100, lut = 100000, ff = 200000 }\n\
                [array]\nrows = 4\ncols = 4\nlut_multiplier_max_bits = 8\n\
                [datapath]\nzero_point = \"fold\"\nrequant = { mode = \"shift\" }\n\
                [buffers]\ninput_kib = 4\nweight_kib = 4\naccumulator_kib = 4\noutput_kib = 4\n";
    let report = report(text);
    let dsp = report.usage_of(Resource::Dsp).unwrap();
    assert_eq!(dsp.used, 0.0);
    assert_eq!(dsp.percent, None);
    assert!(report.fits, "{}", report.message);
}

#[test]
fn graph_override_widens_array() {
    let graph = tiny_graph();
    let base = "[array]\nrows = 8\ncols = 8\n";
    let plain = estimate(&hw(base), Some(&graph));
    let widened_text = format!("{base}[[layer]]\nmatch = \"3\"\nactivation = \"int16\"\n");
    let widened = estimate(&hw(&widened_text), Some(&graph));
    assert_eq!(plain.array.widths.activation_storage_bits, 8);
    assert_eq!(widened.array.widths.activation_storage_bits, 16);
    assert_eq!(widened.array.multiplier.first.bits, 17);
}

#[test]
fn graph_override_on_pooling_ignored() {
    let graph = tiny_graph();
    // Operator 2 is MAX_POOL_2D, which does not run on the array.
    let text = "[array]\nrows = 8\ncols = 8\n[[layer]]\nmatch = \"2\"\nweight = \"int16\"\n";
    let config = hw(text);
    let with_graph = estimate(&config, Some(&graph));
    let without_graph = estimate(&config, None);
    assert_eq!(with_graph.array.widths.weight_storage_bits, 8);
    assert_eq!(
        without_graph.array.widths.weight_storage_bits, 16,
        "without a model every entry may select a MAC layer"
    );
}

#[test]
fn graph_narrowing_every_layer_narrows_array() {
    let graph = tiny_graph();
    let mut text = String::from("[array]\nrows = 8\ncols = 8\n");
    // The MAC layers of the tiny model: 0, 1 (depthwise, on the array), 3, 6.
    for layer in [0, 1, 3, 6] {
        text.push_str(&format!(
            "[[layer]]\nmatch = \"{layer}\"\nweight = \"int4\"\n"
        ));
    }
    let report = estimate(&hw(&text), Some(&graph));
    assert_eq!(report.array.widths.weight_storage_bits, 4);
}

#[test]
fn vector_unit_adds_lanes() {
    let array = report("[array]\ndepthwise = \"array\"\n");
    let vector = report("[array]\ndepthwise = \"vector\"\n");
    assert!(array.vector_unit.is_none());
    let unit = vector.vector_unit.as_ref().unwrap();
    assert_eq!(unit.cells, 16);
    assert_eq!(vector.totals.dsp, array.totals.dsp + 16);
}

#[test]
fn output_stationary_buffers_have_no_adders() {
    let text = |dataflow: &str| {
        format!(
            "[array]\nrows = 4\ncols = 8\ndataflow = \"{dataflow}\"\n\
             [datapath]\naccumulator = {{ bits = 24, overflow = \"wrap\" }}\n"
        )
    };
    let buffers_luts = |report: &ResourceReport| {
        report
            .components
            .iter()
            .find(|row| row.component == "buffers")
            .map(|row| row.lut)
            .unwrap()
    };
    let weight_stationary = report(&text("weight-stationary"));
    let output_stationary = report(&text("output-stationary"));
    // One 24-bit read-modify-write adder per column, where the
    // weight-stationary array's fold sums meet the stored accumulators.
    assert_eq!(
        buffers_luts(&weight_stationary) - buffers_luts(&output_stationary),
        8 * 24
    );
}

#[test]
fn output_stationary_pe_keeps_two_sums() {
    let text = "[array]\nrows = 4\ncols = 4\ndataflow = \"output-stationary\"\n\
                [datapath]\nzero_point = \"fold\"\naccumulator = { bits = 32, overflow = \"wrap\" }\n";
    let array = report(text).array;
    // Per PE: the fold sum and the accumulator, 32 bits each. 12 PEs pass
    // 8 + 1 activation bits right and 12 pass 8 weight bits down. The skews
    // hold 1 + 2 stages of each in flip-flops. The fold flags take 3
    // flip-flops per delay of 1 to 6 cycles.
    let operand_paths = 12 * 9 + 12 * 8 + 3 * 9 + 3 * 8 + 3 * 6;
    assert_eq!(array.logic.ffs, 16 * 2 * 32 + operand_paths);
}

#[test]
fn dram_port_width_changes_control_logic() {
    let narrow = report("[dram]\nbytes_per_cycle = 8\n");
    let wide = report("[dram]\nbytes_per_cycle = 16\n");
    assert_eq!(wide.totals.lut - narrow.totals.lut, 64);
}

#[test]
fn report_serialises_to_json() {
    let report = report("[array]\nrows = 8\ncols = 8\n");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["part"], "xc7z020");
    assert_eq!(json["fits"], true);
    assert_eq!(json["usage"][0]["name"], "DSP48E1");
    assert_eq!(json["array"]["multiplier"]["kind"]["kind"], "dsp");
}
