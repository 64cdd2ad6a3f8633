//! Runs the TFLite Micro reference interpreter (the oracle script) on a
//! model and loads every tensor it dumps.
//!
//! Dumps are cached under `<target>/oracle-cache/`, keyed by a hash of the
//! model bytes, the input, the oracle script and the Python path, because
//! every oracle run starts Python and loads TFLite Micro. The key does not
//! cover the installed tflite-micro version, so after upgrading the oracle
//! environment delete the cache directory or set `FXSIM_ORACLE_NO_CACHE=1`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::compare::{compare_tensor, Difference, TensorMismatch};
use super::npy::{read_npy, write_npy, NpyArray};
use super::{oracle_python, oracle_script, repo_dir};

/// One tensor of subgraph 0 as the oracle computed it.
#[derive(Debug, Clone)]
pub struct OracleTensor {
    pub index: usize,
    pub name: String,
    /// The shape stored in the model file.
    pub declared_shape: Vec<usize>,
    pub value: NpyArray,
}

/// Every tensor of subgraph 0 after one inference, and output 0.
#[derive(Debug, Clone)]
pub struct OracleDump {
    pub model: PathBuf,
    /// Directory holding the dump files (`tensors.tsv`, `t<i>.npy`,
    /// `output0.npy`).
    pub dir: PathBuf,
    /// Indexed by tensor index.
    pub tensors: Vec<OracleTensor>,
    pub output: NpyArray,
}

impl OracleDump {
    pub fn tensor(&self, index: usize) -> Option<&OracleTensor> {
        self.tensors.get(index)
    }

    pub fn tensor_by_name(&self, name: &str) -> Option<&OracleTensor> {
        self.tensors.iter().find(|tensor| tensor.name == name)
    }

    /// Compares a computed value of tensor `index` with the oracle's.
    ///
    /// An index the dump does not have is reported as a mismatch whose
    /// tensor name is `<no such tensor>` and whose expected shape is empty.
    pub fn compare(&self, index: usize, got: &NpyArray) -> Result<(), Box<TensorMismatch>> {
        match self.tensor(index) {
            Some(tensor) => compare_tensor(&self.model, index, &tensor.name, &tensor.value, got),
            None => Err(Box::new(TensorMismatch {
                model: self.model.clone(),
                tensor_index: index,
                tensor_name: "<no such tensor>".to_string(),
                difference: Difference::Shape {
                    expected: Vec::new(),
                    got: got.shape.clone(),
                },
            })),
        }
    }

    /// Compares like [`OracleDump::compare`] and panics with the mismatch.
    #[track_caller]
    pub fn assert_tensor_eq(&self, index: usize, got: &NpyArray) {
        if let Err(mismatch) = self.compare(index, got) {
            panic!("{mismatch}");
        }
    }

    /// Compares every `(tensor index, value)` pair and returns all
    /// mismatches, so that one failure can list every wrong tensor.
    pub fn compare_all<'a>(
        &self,
        computed: impl IntoIterator<Item = (usize, &'a NpyArray)>,
    ) -> Vec<TensorMismatch> {
        let results = computed
            .into_iter()
            .map(|(index, got)| self.compare(index, got));
        results
            .filter_map(Result::err)
            .map(|mismatch| *mismatch)
            .collect()
    }
}

/// Runs the oracle on `model` with `input` and loads the dump.
///
/// Errors when the oracle Python or script is missing, when the script
/// fails (the message carries the end of its stderr) or when a dump file
/// cannot be read.
pub fn run_oracle(model: &Path, input: &NpyArray) -> Result<OracleDump, String> {
    let python = oracle_python().ok_or_else(|| {
        "oracle Python not found; set FXSIM_ORACLE_PYTHON or create .venv-oracle".to_string()
    })?;
    let script =
        oracle_script().ok_or_else(|| "oracle script tflm_dump.py not found".to_string())?;
    let model_bytes =
        fs::read(model).map_err(|e| format!("failed to read model {}: {e}", model.display()))?;

    let scratch = unique_dir(&std::env::temp_dir(), "fxsim-oracle");
    fs::create_dir_all(&scratch)
        .map_err(|e| format!("failed to create {}: {e}", scratch.display()))?;
    let result = run_in_scratch(model, &model_bytes, input, &python, &script, &scratch);
    // The scratch directory only contains the input and, without a cache,
    // the dump already loaded into memory.
    let _ = fs::remove_dir_all(&scratch);
    result
}

fn run_in_scratch(
    model: &Path,
    model_bytes: &[u8],
    input: &NpyArray,
    python: &Path,
    script: &Path,
    scratch: &Path,
) -> Result<OracleDump, String> {
    let input_path = scratch.join("input.npy");
    write_npy(&input_path, input)?;

    let Some(cache_root) = cache_root() else {
        let dump_dir = scratch.join("dump");
        run_script(python, script, model, &input_path, &dump_dir)?;
        return load_dump(model, &dump_dir);
    };

    let input_bytes = fs::read(&input_path)
        .map_err(|e| format!("failed to read {}: {e}", input_path.display()))?;
    let script_bytes =
        fs::read(script).map_err(|e| format!("failed to read {}: {e}", script.display()))?;
    let key = cache_key(&[
        model_bytes,
        &input_bytes,
        &script_bytes,
        python.as_os_str().as_encoded_bytes(),
    ]);
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let cached = cache_root.join(format!("{stem}-{key:032x}"));
    if cached.is_dir() {
        return load_dump(model, &cached);
    }

    // Dump into a private directory beside the cache entry and rename it
    // into place, so a concurrent reader sees a complete entry or none.
    fs::create_dir_all(&cache_root)
        .map_err(|e| format!("failed to create {}: {e}", cache_root.display()))?;
    let partial = unique_dir(&cache_root, ".partial");
    let outcome = run_script(python, script, model, &input_path, &partial);
    if let Err(message) = outcome {
        let _ = fs::remove_dir_all(&partial);
        return Err(message);
    }
    if fs::rename(&partial, &cached).is_err() {
        // Another test finished the same dump first, and its copy is identical.
        let _ = fs::remove_dir_all(&partial);
    }
    load_dump(model, &cached)
}

fn run_script(
    python: &Path,
    script: &Path,
    model: &Path,
    input: &Path,
    out_dir: &Path,
) -> Result<(), String> {
    let output = Command::new(python)
        .arg(script)
        .arg(model)
        .arg(input)
        .arg(out_dir)
        .output()
        .map_err(|e| format!("failed to start oracle {}: {e}", python.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(format!(
        "oracle failed on {} ({}):\n{tail}",
        model.display(),
        output.status
    ))
}

/// Loads a dump directory written by the oracle script.
pub fn load_dump(model: &Path, dir: &Path) -> Result<OracleDump, String> {
    let index_path = dir.join("tensors.tsv");
    let index = fs::read_to_string(&index_path)
        .map_err(|e| format!("failed to read {}: {e}", index_path.display()))?;

    let mut tensors = Vec::new();
    for (line_number, line) in index.lines().enumerate() {
        let location = format!("{}:{}", index_path.display(), line_number + 1);
        let (tensor_index, name, declared_shape) =
            parse_index_line(line).map_err(|e| format!("{location}: {e}"))?;
        if tensor_index != tensors.len() {
            return Err(format!(
                "{location}: tensor index {tensor_index}, expected {}",
                tensors.len()
            ));
        }
        let value = read_npy(&dir.join(format!("t{tensor_index}.npy")))?;
        tensors.push(OracleTensor {
            index: tensor_index,
            name,
            declared_shape,
            value,
        });
    }

    let output = read_npy(&dir.join("output0.npy"))?;
    Ok(OracleDump {
        model: model.to_path_buf(),
        dir: dir.to_path_buf(),
        tensors,
        output,
    })
}

/// Parses `index <TAB> name <TAB> [d0, d1, ...] <TAB> dtype`. The name is
/// everything between the first and the last two tabs, so a tab inside a
/// name does not break the parse.
fn parse_index_line(line: &str) -> Result<(usize, String, Vec<usize>), String> {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() < 4 {
        return Err(format!(
            "expected 4 tab-separated fields (index, name, shape, dtype), got {:?}",
            line
        ));
    }
    let tensor_index = fields[0]
        .parse()
        .map_err(|_| format!("invalid tensor index {:?}", fields[0]))?;
    let name = fields[1..fields.len() - 2].join("\t");
    let shape_text = fields[fields.len() - 2];
    let declared_shape: Vec<usize> = serde_json::from_str(shape_text)
        .map_err(|e| format!("invalid shape {shape_text:?}: {e}"))?;
    Ok((tensor_index, name, declared_shape))
}

/// Cache directory, or `None` when caching is turned off with
/// `FXSIM_ORACLE_NO_CACHE` set to anything but empty or `0`.
fn cache_root() -> Option<PathBuf> {
    let disabled = std::env::var_os("FXSIM_ORACLE_NO_CACHE")
        .is_some_and(|value| !value.is_empty() && value != "0");
    if disabled {
        return None;
    }
    // Cargo passes CARGO_TARGET_DIR on to tests only when the user set it.
    // A relative value is relative to the package root, which is the tests'
    // working directory.
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_dir().join(dir),
        None => repo_dir().join("target"),
    };
    Some(target.join("oracle-cache"))
}

/// 128-bit FNV-1a over the parts, each prefixed with its length so that
/// moving bytes from one part to the next changes the key.
fn cache_key(parts: &[&[u8]]) -> u128 {
    const OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = OFFSET_BASIS;
    for part in parts {
        let length = (part.len() as u64).to_le_bytes();
        for &byte in length.iter().chain(part.iter()) {
            hash ^= u128::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// Returns a path under `parent` that no other process or thread uses,
/// made of the process id, a per-process counter and the clock.
fn unique_dir(parent: &Path, prefix: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    parent.join(format!("{prefix}-{}-{count}-{nanos}", std::process::id()))
}
