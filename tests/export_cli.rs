//! `fxsim export` and `fxsim verify` as a user runs them: the committed
//! test vectors regenerate byte for byte, a dump with one changed element
//! is reported at exactly that element, unreadable input exits 2, and a
//! failing export leaves nothing behind. Also the faults a new user met:
//! ambiguous dump pairing, export deleting user files, read errors worded
//! as write errors, ignored `--file`, padding in the counts and plurals.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example the committed `testvectors/example` export is made from:
/// model, input and hardware description, relative to the repository.
/// `testvectors/README.md` gives the command; change both together.
const EXAMPLE: [&str; 3] = [
    "examples/digits/model.tflite",
    "examples/digits/input.npy",
    "examples/hw/zynq7020.toml",
];

fn fxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fxsim"))
        .args(args)
        .output()
        .expect("cannot start fxsim")
}

fn repo(path: &str) -> String {
    common::repo_dir().join(path).display().to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates an empty scratch directory under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn export(out: &Path, hw: &str) -> Output {
    let [model, input, _] = EXAMPLE;
    fxsim(&[
        "export",
        &repo(model),
        "--hw",
        hw,
        "--input",
        &repo(input),
        "--out",
        out.to_str().unwrap(),
        "--accumulators",
    ])
}

fn export_example(name: &str) -> PathBuf {
    let out = scratch(name).join("export");
    let output = export(&out, &repo(EXAMPLE[2]));
    assert!(output.status.success(), "{}", stderr(&output));
    out
}

#[test]
fn testvectors_regenerate_byte_for_byte() {
    let fresh = export_example("testvectors_regenerate_byte_for_byte");
    let committed = common::repo_dir().join("testvectors/example");
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&committed), names(&fresh), "file lists differ");
    for name in names(&fresh) {
        let old = std::fs::read(committed.join(&name)).unwrap();
        let new = std::fs::read(fresh.join(&name)).unwrap();
        assert!(
            old == new,
            "{name} differs from the committed test vector; regenerate with the command in testvectors/README.md if the change is intended"
        );
    }
}

/// Rewrites element `element` of word `word` (after the header) of a hex
/// image, adding 1 modulo the element width.
fn change_element(text: &str, word: usize, element: usize, element_bits: usize) -> String {
    let mut index = 0;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("//") {
            lines.push(line.to_string());
            continue;
        }
        if index == word {
            let digits = line.len();
            let mut value = u128::from_str_radix(line, 16).unwrap();
            let shift = element * element_bits;
            let mask = ((1u128 << element_bits) - 1) << shift;
            let old = (value & mask) >> shift;
            let new = (old + 1) & ((1u128 << element_bits) - 1);
            value = (value & !mask) | (new << shift);
            lines.push(format!("{value:0digits$x}"));
        } else {
            lines.push(line.to_string());
        }
        index += 1;
    }
    lines.join("\n") + "\n"
}

#[test]
fn verify_reports_one_changed_element() {
    let golden = export_example("verify_reports_one_changed_element");
    let dumps = golden.with_file_name("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    // layer 3: CONV_2D to [1, 4, 4, 32] on an 8-column array, so T = 4 and
    // M = 16. Word 21 is tile 1, pixel 5 = (h 1, w 1); element 3 is
    // channel 1*8 + 3 = 11.
    let text = std::fs::read_to_string(golden.join("layer003_output.mem")).unwrap();
    std::fs::write(
        dumps.join("layer003_output.mem"),
        change_element(&text, 21, 3, 8),
    )
    .unwrap();
    std::fs::copy(
        golden.join("layer000_output.mem"),
        dumps.join("layer000_output.hex"),
    )
    .unwrap();

    let output = fxsim(&["verify", golden.to_str().unwrap(), dumps.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let mismatches: Vec<&str> = text.lines().filter(|l| l.contains(": expected ")).collect();
    assert_eq!(mismatches.len(), 1, "{text}");
    assert!(
        mismatches[0].starts_with(
            "layer 3 output layer003_output.mem: word 21 element 3 at (n, h, w, c) = (0, 1, 1, 11): expected "
        ),
        "{text}"
    );
    assert!(
        text.contains("layer000_output.mem: ok, 0 of 1024 elements differ"),
        "{text}"
    );
    assert!(
        text.contains("layer003_output.mem: MISMATCH, 1 of 512 elements differ"),
        "{text}"
    );
}

#[test]
fn verify_matches_decimal_dump_in_tensor_order() {
    let golden = export_example("verify_matches_decimal_dump_in_tensor_order");
    let dump = golden.with_file_name("layer007_output.txt");
    // SOFTMAX output [1, 10]: write it in tensor order, then
    // change element 4 to its unsigned spelling (same bits) and element 6.
    let values = tensor_values(&golden, "layer007_output.mem");
    let mut lines: Vec<String> = values.iter().map(i64::to_string).collect();
    lines[4] = ((values[4] + 256) % 256).to_string();
    lines[6] = (values[6] + 1).to_string();
    std::fs::write(&dump, lines.join("\n")).unwrap();

    let output = fxsim(&["verify", golden.to_str().unwrap(), dump.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let mismatches: Vec<&str> = text.lines().filter(|l| l.contains(": expected ")).collect();
    assert_eq!(mismatches.len(), 1, "{text}");
    assert!(
        mismatches[0].contains("word 0 element 6 at (0, 6): expected"),
        "{text}"
    );
}

/// Reads a golden image back in tensor order, for a tensor of at most C
/// channels, where word m contains row m.
fn tensor_values(dir: &Path, name: &str) -> Vec<i64> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let manifest = fxsim::export::read_manifest(dir).unwrap();
    let entry = manifest.file(name).unwrap();
    let channels = *entry.tensor.as_ref().unwrap().shape.last().unwrap();
    let words = fxsim::verify::parse::parse_hex_dump(&text).unwrap();
    let mut values = Vec::new();
    for (_, word) in words {
        for j in 0..channels.min(entry.elements_per_word as usize) {
            values.push(fxsim::export::mem::extract_bits(
                &word.value,
                (j as u64) * u64::from(entry.element_bits),
                entry.element_bits,
                entry.signed,
            ));
        }
    }
    values
}

#[test]
fn verify_identical_dump_exits_0() {
    let golden = export_example("verify_identical_dump_exits_0");
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        golden.join("layer006_acc.mem").to_str().unwrap(),
        "--layer",
        "6",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // FULLY_CONNECTED [1, 10]: the 6 padding elements of the last column
    // tile are checked but not counted.
    assert!(
        stdout(&output).contains("1 file, 10 elements compared, 0 differ"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn verify_unreadable_dump_exits_2() {
    let golden = export_example("verify_unreadable_dump_exits_2");
    let dump = golden.with_file_name("layer000_output.mem");
    std::fs::write(&dump, "// rtl\n00\n0g\n").unwrap();
    let output = fxsim(&["verify", golden.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("layer000_output.mem:3:2: not a valid $readmemh dump here: \"g\""),
        "{}",
        stderr(&output)
    );

    let missing = golden.with_file_name("absent.mem");
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));

    let unnamed = golden.with_file_name("rtl_out.mem");
    std::fs::write(&unnamed, "00\n").unwrap();
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        unnamed.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("pass --file NAME"),
        "{}",
        stderr(&output)
    );
}

/// Exports `model` on `input` with the example hardware into `out`.
fn export_model(out: &Path, model: &str, input: &Path) -> Output {
    fxsim(&[
        "export",
        model,
        "--hw",
        &repo(EXAMPLE[2]),
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn failed_export_leaves_nothing() {
    let work = scratch("failed_export_leaves_nothing");
    // The model's last operator dequantizes to float32, which no memory
    // image holds, so the export fails there, after the input and four
    // int8 and int16 outputs were written.
    let model = repo("tests/data/op_models/requantize_chain.tflite");
    let input = work.join("input.npy");
    let values = (0..60).map(|value| (value * 7 % 256 - 128) as i8).collect();
    let array = common::NpyArray::new(vec![1, 4, 5, 3], common::NpyData::I8(values)).unwrap();
    common::write_npy(&input, &array).unwrap();

    let fresh = work.join("fresh");
    let output = export_model(&fresh, &model, &input);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("float32"), "{}", stderr(&output));
    assert!(!fresh.exists());

    // An earlier export at the target stays as it was.
    let earlier = work.join("earlier");
    assert!(export(&earlier, &repo(EXAMPLE[2])).status.success());
    let manifest = std::fs::read(earlier.join("manifest.json")).unwrap();
    let output = export_model(&earlier, &model, &input);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        std::fs::read(earlier.join("manifest.json")).unwrap(),
        manifest
    );
    let leftovers: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

/// A post bias that does not fit a narrow register is loaded into it with
/// the register's overflow, as the executor loads it, so such a datapath
/// exports (it used to be rejected).
#[test]
fn post_bias_loads_into_narrow_register() {
    let work = scratch("post_bias_loads_into_narrow_register");
    let base = std::fs::read_to_string(repo(EXAMPLE[2])).unwrap();
    let hw = base
        .replace(
            "accumulator = { bits = 32, overflow = \"wrap\" }",
            "accumulator = { bits = 12, overflow = \"saturate\" }",
        )
        .replace("bias = \"init\"", "bias = \"post\"");
    assert_ne!(hw, base);
    let hw_path = work.join("narrow.toml");
    std::fs::write(&hw_path, hw).unwrap();
    let out = work.join("export");
    let output = export(&out, hw_path.to_str().unwrap());
    assert!(output.status.success(), "{}", stderr(&output));
    // Layer 0's post biases reach 9016, so the 12-bit register saturates
    // some of them at 2047 or -2048.
    let image = std::fs::read_to_string(out.join("layer000_bias_post.mem")).unwrap();
    let words: Vec<&str> = image
        .lines()
        .filter(|line| !line.starts_with("//"))
        .collect();
    let saturated = words
        .iter()
        .flat_map(|word| (0..word.len() / 3).map(move |index| &word[index * 3..index * 3 + 3]))
        .filter(|element| *element == "7ff" || *element == "800")
        .count();
    assert!(saturated > 0, "{image}");
}

#[test]
fn export_refuses_foreign_directory() {
    let work = scratch("export_refuses_foreign_directory");
    std::fs::write(work.join("notes.txt"), "mine").unwrap();
    let output = export(&work, &repo(EXAMPLE[2]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not an fxsim export"),
        "{}",
        stderr(&output)
    );
    assert!(work.join("notes.txt").exists());
}

#[test]
fn verify_reports_unknown_bits() {
    let golden = export_example("verify_reports_unknown_bits");
    let text = std::fs::read_to_string(golden.join("layer006_output.mem")).unwrap();
    // FULLY_CONNECTED [1, 10] on 8 columns: word 1 contains channels 8 and 9.
    // An x in its lowest digit makes element 0 (channel 8) unknown.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let last = lines.len() - 1;
    lines[last].pop();
    lines[last].push('x');
    let dump = golden.with_file_name("layer006_output.mem");
    std::fs::write(&dump, lines.join("\n")).unwrap();

    let output = fxsim(&["verify", golden.to_str().unwrap(), dump.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    assert!(
        text.contains("layer 6 output layer006_output.mem: word 1 element 0 at (0, 8): expected "),
        "{text}"
    );
    assert!(text.contains(", got x/z"), "{text}");
    assert!(text.contains("MISMATCH, 1 of 10 elements differ"), "{text}");
}

/// Writes the golden image `name` of `golden` in tensor order as a decimal
/// dump at `path`.
fn write_decimal_dump(golden: &Path, name: &str, path: &Path) -> Vec<i64> {
    let values = tensor_values(golden, name);
    let lines: Vec<String> = values.iter().map(i64::to_string).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    values
}

/// Two dumps in one directory that pair with the same golden file: a
/// correct `.mem` and a wrong `.txt`. Comparing only the first by name
/// would pass, so verify must exit 2 and name both dumps and the golden file.
#[test]
fn verify_rejects_two_dumps_for_one_golden() {
    let golden = export_example("verify_rejects_two_dumps_for_one_golden");
    let dumps = golden.with_file_name("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    std::fs::copy(
        golden.join("layer006_output.mem"),
        dumps.join("layer006_output.mem"),
    )
    .unwrap();
    let values = tensor_values(&golden, "layer006_output.mem");
    let wrong: Vec<String> = values.iter().map(|v| (v ^ 1).to_string()).collect();
    std::fs::write(dumps.join("layer006_output.txt"), wrong.join("\n")).unwrap();

    let output = fxsim(&["verify", golden.to_str().unwrap(), dumps.to_str().unwrap()]);
    let message = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}{message}",
        stdout(&output)
    );
    assert!(message.contains("layer006_output.mem and "), "{message}");
    assert!(
        message.contains("layer006_output.txt both pair"),
        "{message}"
    );
    assert!(
        message.contains("golden file layer006_output.mem"),
        "{message}"
    );
}

/// The per-file summary names the dump compared, not only the golden
/// file, so a user sees which of their files was read.
#[test]
fn verify_summary_names_compared_dump() {
    let golden = export_example("verify_summary_names_compared_dump");
    let dumps = golden.with_file_name("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    let dump = dumps.join("layer006_output.txt");
    write_decimal_dump(&golden, "layer006_output.mem", &dump);

    let output = fxsim(&["verify", golden.to_str().unwrap(), dumps.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let expected = format!(
        "{} against layer006_output.mem: ok, 0 of 10 elements differ",
        dump.display()
    );
    assert!(text.contains(&expected), "{text}");
}

/// A missing export directory, a directory without manifest.json and a
/// missing dump: each message names what could not be read, with the
/// operating system's wording, never "cannot write" or "entity not found".
#[test]
fn verify_missing_inputs_say_cannot_read() {
    let golden = export_example("verify_missing_inputs_say_cannot_read");
    let dump = golden.join("layer006_output.mem");
    let work = golden.parent().unwrap();

    let absent = work.join("absent");
    let output = fxsim(&["verify", absent.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!("{}: export directory does not exist", absent.display());
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));

    let empty = work.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = fxsim(&["verify", empty.to_str().unwrap(), dump.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!(
        "{}: cannot read: No such file or directory",
        empty.join("manifest.json").display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));

    let missing = work.join("layer006_output.mem");
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!(
        "{}: cannot read: No such file or directory",
        missing.display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    assert!(!stderr(&output).contains("entity not found"));
}

/// `--file` names the golden file of one dump file. It cannot apply to a
/// dump directory, so it must be an error there instead of being ignored.
#[test]
fn verify_file_with_dump_directory_exits_2() {
    let golden = export_example("verify_file_with_dump_directory_exits_2");
    let dumps = golden.with_file_name("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    std::fs::copy(golden.join("layer006_output.mem"), dumps.join("out.mem")).unwrap();
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        dumps.to_str().unwrap(),
        "--file",
        "layer006_output.mem",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output)
            .contains("is a directory; --file layer006_output.mem applies to a single dump file"),
        "{}",
        stderr(&output)
    );
}

/// A dump directory's files that pair with no golden file are skipped with
/// one note each on standard error, so a misnamed dump is not lost quietly.
#[test]
fn verify_notes_skipped_dump_files() {
    let golden = export_example("verify_notes_skipped_dump_files");
    let dumps = golden.with_file_name("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    std::fs::copy(
        golden.join("layer006_output.mem"),
        dumps.join("layer006_output.mem"),
    )
    .unwrap();
    std::fs::copy(golden.join("layer006_output.mem"), dumps.join("layer6.mem")).unwrap();
    std::fs::create_dir_all(dumps.join("build")).unwrap();

    let output = fxsim(&["verify", golden.to_str().unwrap(), dumps.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let notes: Vec<String> = stderr(&output).lines().map(str::to_string).collect();
    let expected = format!(
        "note: {}: skipped, it matches no golden file that verify compares",
        dumps.join("layer6.mem").display()
    );
    assert_eq!(notes, vec![expected]);
    assert!(stdout(&output).contains("1 file, 10 elements compared"));
}

/// `--layer` for an operator the export has no files of is reported as
/// such, with the layers it has, instead of "no dump to compare".
#[test]
fn verify_unknown_layer_lists_layers() {
    let golden = export_example("verify_unknown_layer_lists_layers");
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        golden.to_str().unwrap(),
        "--layer",
        "99",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let expected = format!(
        "{}: the export has no layer 99; its layers are 0, 1, 2, 3, 4, 5, 6, 7",
        golden.display()
    );
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}

/// A partial last column tile: [1, 10] on 8 columns has 6 padding
/// elements in word 1. The counts are of the 10 tensor elements in hex as in decimal
/// tensor order, and a nonzero padding element is a mismatch of its own.
#[test]
fn verify_counts_padding_apart() {
    let golden = export_example("verify_counts_padding_apart");
    let dump = golden.with_file_name("layer007_output.mem");
    let text = std::fs::read_to_string(golden.join("layer007_output.mem")).unwrap();
    // Element 4 of word 1 would be channel 12, past the last channel 9.
    std::fs::write(&dump, change_element(&text, 1, 4, 8)).unwrap();
    let output = fxsim(&["verify", golden.to_str().unwrap(), dump.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    assert!(
        text.contains("MISMATCH, 0 of 10 elements differ, 1 padding element not 0"),
        "{text}"
    );
    assert!(
        text.contains("word 1 element 4 (padding element)"),
        "{text}"
    );

    let decimal = golden.with_file_name("layer007_output.txt");
    write_decimal_dump(&golden, "layer007_output.mem", &decimal);
    let output = fxsim(&[
        "verify",
        golden.to_str().unwrap(),
        decimal.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("ok, 0 of 10 elements differ"));
}

/// Words past the golden depth are counted with the right grammar.
#[test]
fn verify_one_extra_word_is_singular() {
    let golden = export_example("verify_one_extra_word_is_singular");
    let dump = golden.with_file_name("layer007_output.mem");
    let text = std::fs::read_to_string(golden.join("layer007_output.mem")).unwrap();
    std::fs::write(&dump, format!("{text}@5\n00\n")).unwrap();
    let output = fxsim(&["verify", golden.to_str().unwrap(), dump.to_str().unwrap()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains(", 1 word beyond the golden depth"), "{text}");
}

/// Exporting again deletes the directory it replaces, so an entry the
/// export did not write (a user's notes, the `rtl_out/` of a hand run)
/// must make it exit 2 naming the entries, and keep them.
#[test]
fn export_again_keeps_user_files() {
    let out = export_example("export_again_keeps_user_files");
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir_all(out.join("rtl_out")).unwrap();
    std::fs::write(out.join("rtl_out").join("layer000_output.mem"), "00\n").unwrap();

    let output = export(&out, &repo(EXAMPLE[2]));
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("contains notes.txt, rtl_out/, which fxsim export did not write"),
        "{}",
        stderr(&output)
    );
    assert!(out.join("notes.txt").is_file());
    assert!(out.join("rtl_out").join("layer000_output.mem").is_file());

    std::fs::remove_file(out.join("notes.txt")).unwrap();
    std::fs::remove_dir_all(out.join("rtl_out")).unwrap();
    let output = export(&out, &repo(EXAMPLE[2]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Counts the files under `dir`, its subdirectories included, but not the
/// export marker.
fn count_files(dir: &Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            count += count_files(&entry.path());
        } else if entry.file_name() != ".fxsim-export" {
            count += 1;
        }
    }
    count
}

/// `export --rtl` counts the files of rtl/ in its summary, and says how
/// many of them are there.
#[test]
fn export_rtl_counts_rtl_files() {
    let work = scratch("export_rtl_counts_rtl_files");
    let out = work.join("export");
    let [model, input, hw] = EXAMPLE;
    let output = fxsim(&[
        "export",
        &repo(model),
        "--hw",
        &repo(hw),
        "--input",
        &repo(input),
        "--out",
        out.to_str().unwrap(),
        "--rtl",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rtl_files = count_files(&out.join("rtl"));
    let expected = format!(
        "wrote {} files to {} ({rtl_files} of them in {})\n",
        count_files(&out),
        out.display(),
        out.join("rtl").display()
    );
    assert_eq!(stdout(&output), expected);
}
