//! `fxsim export`: the files an RTL engineer needs to check a design
//! against the simulator, from the same model, hardware description and
//! input: `params.vh`, `layers.mem`, per-layer weight, activation, bias and
//! requantisation images, golden tensors and optionally accumulators.
//!
//! [`export`] validates the request, runs the one executor, then emits
//! every file into a staging directory beside the target and renames it
//! into place, so an error leaves nothing behind. An earlier export is
//! replaced only when it contains nothing but the files an export writes.
//! `docs/formats.md` fixes every layout; [`manifest`] describes the files
//! for tools. Limitation: every intermediate tensor is held in memory
//! during the export.

mod error;
mod existing;
pub mod golden;
pub mod layer;
pub mod manifest;
pub mod mem;
pub mod params;
pub mod rtl;

pub use error::ExportError;
pub use manifest::{Checksum, FileEntry, LayerField, Manifest, Role, TensorLayout};

use crate::analysis::accum::Progress;
use crate::exec::{CapturedAccumulators, Execution, Executor, TensorValue};
use crate::hw::HwConfig;
use crate::model::Graph;
use golden::GoldenTensor;
use layer::MacLayer;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Name of the marker file that identifies an export directory.
pub const EXPORT_MARKER: &str = ".fxsim-export";

/// Marker and name of an export directory for the atomic directory writer.
const EXPORT_DIR: crate::io::OutputDir = crate::io::OutputDir {
    marker: EXPORT_MARKER,
    marker_text: "written by fxsim export\n",
    kind: "export",
};

/// Options of an export beyond the files always written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Also write each MAC layer's accumulators before the PPU.
    pub accumulators: bool,
    /// Also write the reference RTL, its testbench and per-layer runs
    /// (`rtl/`, see [`rtl`]).
    pub rtl: bool,
}

/// File names recorded in the manifest.
#[derive(Debug, Clone, Default)]
pub struct ExportSources {
    pub model: String,
    pub hw: String,
    pub input: String,
}

/// A validated export: the graph, the hardware and the executor prepared
/// for its datapaths.
pub struct Export<'g> {
    graph: &'g Graph,
    hw: &'g HwConfig,
    executor: Executor<'g>,
    input: TensorValue,
    sources: ExportSources,
    options: ExportOptions,
}

impl<'g> Export<'g> {
    /// Checks that the hardware fits the graph and the export's limits and
    /// prepares every operator on its configured datapath.
    pub fn validate(
        graph: &'g Graph,
        hw: &'g HwConfig,
        input: TensorValue,
        sources: ExportSources,
        options: ExportOptions,
    ) -> Result<Export<'g>, ExportError> {
        hw.check_graph(graph)
            .map_err(|error| ExportError::Hw(Box::new(error)))?;
        if graph.inputs.len() != 1 {
            return Err(ExportError::Unsupported {
                message: format!(
                    "the model has {} inputs; export takes models with exactly one",
                    graph.inputs.len()
                ),
            });
        }
        let datapaths = hw.datapaths(graph);
        let executor = Executor::with_datapaths(graph, |index| datapaths[index].clone())?;
        Ok(Export {
            graph,
            hw,
            executor,
            input,
            sources,
            options,
        })
    }

    /// Runs the network and writes every file into `dir`, atomically.
    pub fn emit(&self, dir: &Path, progress: &dyn Progress) -> Result<Manifest, ExportError> {
        crate::io::check_output_dir(dir, EXPORT_DIR)?;
        existing::check_no_foreign_entries(dir)?;
        let inputs = [self.input.clone()];
        let (execution, accumulators) = if self.options.accumulators {
            self.executor.run_capturing(&inputs)?
        } else {
            (
                self.executor.run(&inputs)?,
                vec![None; self.graph.ops.len()],
            )
        };

        crate::io::write_dir_atomically_with(dir, EXPORT_DIR, |staging| {
            self.write_files(staging, &execution, &accumulators, progress)
        })
    }

    fn write_files(
        &self,
        staging: &Path,
        execution: &Execution,
        accumulators: &CapturedAccumulators,
        progress: &dyn Progress,
    ) -> Result<Manifest, ExportError> {
        let mut open = |name: &str| -> Result<BufWriter<fs::File>, ExportError> {
            let path = staging.join(name);
            fs::File::create(&path)
                .map(|file| BufWriter::with_capacity(1 << 16, file))
                .map_err(|source| ExportError::Io { path, source })
        };
        let cols = self.hw.array.cols as usize;
        let mut files = Vec::new();

        let input_id = self.graph.inputs[0];
        files.push(self.write_golden(
            &mut open,
            "input.mem",
            Role::Input,
            None,
            input_id,
            execution,
        )?);

        progress.start(self.graph.ops.len() as u64);
        let mut records = Vec::new();
        for (index, op) in self.graph.ops.iter().enumerate() {
            if let Some(layer_files) =
                self.write_mac_layer(&mut open, index, execution, accumulators, &mut records)?
            {
                files.extend(layer_files);
            }
            for (position, &id) in op.outputs.iter().enumerate() {
                let name = match position {
                    0 => format!("layer{index:03}_output.mem"),
                    _ => format!("layer{index:03}_output{position}.mem"),
                };
                files.push(self.write_golden(
                    &mut open,
                    &name,
                    Role::Output,
                    Some(index),
                    id,
                    execution,
                )?);
            }
            progress.advance(1);
        }
        files.push(params::write_layers(open("layers.mem")?, &records)?);
        if self.options.rtl {
            rtl::write_rtl(staging, self.hw, &records, &files)?;
        }

        let params = params::render_params(&self.sources.model, self.hw, records.len())?;
        let params = ensure_final_newline(params);
        let path = staging.join("params.vh");
        fs::write(&path, &params).map_err(|source| ExportError::Io { path, source })?;
        files.insert(0, params_entry(&params));

        let manifest = Manifest {
            format: manifest::MANIFEST_FORMAT.to_string(),
            model: self.sources.model.clone(),
            hw: self.sources.hw.clone(),
            input: self.sources.input.clone(),
            rows: self.hw.array.rows as usize,
            cols,
            layer_fields: params::layer_fields(),
            files,
        };
        let text =
            serde_json::to_string_pretty(&manifest).map_err(|error| ExportError::Template {
                file: "manifest.json".to_string(),
                message: error.to_string(),
            })?;
        let path = staging.join("manifest.json");
        fs::write(&path, ensure_final_newline(text))
            .map_err(|source| ExportError::Io { path, source })?;
        Ok(manifest)
    }

    /// Writes operator `index`'s images when it is a MAC layer, and records
    /// its `layers.mem` word.
    fn write_mac_layer(
        &self,
        open: &mut dyn FnMut(&str) -> Result<BufWriter<fs::File>, ExportError>,
        index: usize,
        execution: &Execution,
        accumulators: &CapturedAccumulators,
        records: &mut Vec<params::LayerRecord>,
    ) -> Result<Option<Vec<FileEntry>>, ExportError> {
        let (Some(image), Some(arithmetic)) =
            (self.executor.image(index), self.executor.arithmetic(index))
        else {
            return Ok(None);
        };
        let op = &self.graph.ops[index];
        let missing = |what: &str| ExportError::Layer {
            index,
            op: op.kind.name().to_string(),
            message: format!("{what} has no value after the run"),
        };
        let input = op
            .input(0)
            .and_then(|id| execution.values.get(id))
            .and_then(Option::as_ref)
            .ok_or_else(|| missing("input"))?;
        let output = op
            .output()
            .and_then(|id| execution.values.get(id))
            .and_then(Option::as_ref)
            .ok_or_else(|| missing("output"))?;
        let captured = accumulators.get(index).and_then(Option::as_deref);
        let layer = MacLayer::new(
            self.graph,
            index,
            &image,
            arithmetic,
            &self.hw.array,
            input,
            captured,
        )?;
        records.push(params::layer_record(&layer));
        let mut open_file = |name: &str| open(name);
        layer.write(&mut open_file, &output.shape).map(Some)
    }

    fn write_golden(
        &self,
        open: &mut dyn FnMut(&str) -> Result<BufWriter<fs::File>, ExportError>,
        name: &str,
        role: Role,
        layer: Option<usize>,
        id: usize,
        execution: &Execution,
    ) -> Result<FileEntry, ExportError> {
        let tensor_name = self.graph.get_tensor(id).map_or("", |t| t.name.as_str());
        let value = execution
            .values
            .get(id)
            .and_then(Option::as_ref)
            .ok_or_else(|| ExportError::Tensor {
                id,
                name: tensor_name.to_string(),
                message: "has no value after the run".to_string(),
            })?;
        let golden = GoldenTensor {
            name: name.to_string(),
            role,
            layer,
            id,
            tensor_name,
            value,
        };
        golden.write(open(name)?, self.hw.array.cols as usize)
    }
}

/// Validates and emits an export of `graph` on `hw` for `input` into `dir`.
pub fn export(
    dir: &Path,
    graph: &Graph,
    hw: &HwConfig,
    input: TensorValue,
    sources: ExportSources,
    options: ExportOptions,
    progress: &dyn Progress,
) -> Result<Manifest, ExportError> {
    Export::validate(graph, hw, input, sources, options)?.emit(dir, progress)
}

/// Reads and parses `manifest.json` in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, ExportError> {
    if !dir.exists() {
        return Err(ExportError::MissingDir {
            path: dir.to_path_buf(),
        });
    }
    let path: PathBuf = dir.join("manifest.json");
    let text = fs::read_to_string(&path).map_err(|source| ExportError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|error| ExportError::Manifest {
        path,
        message: error.to_string(),
    })
}

fn ensure_final_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn params_entry(text: &str) -> FileEntry {
    FileEntry {
        name: "params.vh".to_string(),
        role: Role::Params,
        layer: None,
        word_bits: 0,
        depth: 0,
        element_bits: 0,
        elements_per_word: 0,
        signed: false,
        element_order: "Verilog localparams".to_string(),
        tensor: None,
        checksum: Checksum {
            word_hash: 0,
            sha256: mem::hex_digest(&Sha256::digest(text.as_bytes())),
        },
    }
}
