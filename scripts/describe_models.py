"""List the ops, inputs and outputs of TFLite models and check that the
TFLite Micro reference interpreter runs each one.

usage: python scripts/describe_models.py [--markdown] [MODEL.tflite ...]

Run it with the oracle environment (the one tflm_dump.py needs: packages
tflite, tflite-micro and numpy). Without MODEL arguments it describes
examples/tiny/model.tflite and tests/data/models/*.tflite. For each model it
prints the op list of subgraph 0 and the input and output tensors with
type, shape, scale and zero point. It also prints the quantization
granularity of each weight tensor and whether tflm_dump.py ran the model on
a seeded random input.
--markdown prints one table row per model instead.

The oracle script is looked up as ../shared/oracle/tflm_dump.py beside the
repository, or at $FXSIM_ORACLE_SCRIPT.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tflite

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ORACLE = ROOT.parent / "shared" / "oracle" / "tflm_dump.py"

TENSOR_TYPES = {
    value: name for name, value in vars(tflite.TensorType).items() if not name.startswith("_")
}
OP_NAMES = {
    value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")
}
NUMPY_TYPES = {
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "INT32": np.int32,
    "FLOAT32": np.float32,
}
# Ops whose input 1 is a weight tensor.
WEIGHTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def op_name(model, op):
    opcode = model.OperatorCodes(op.OpcodeIndex())
    # Codes above 127 are stored only in BuiltinCode, and older files fill
    # only DeprecatedBuiltinCode, so the larger of the two is the real code.
    code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
    return OP_NAMES.get(code, f"BUILTIN_{code}")


def tensor_summary(graph, index):
    tensor = graph.Tensors(index)
    dtype = TENSOR_TYPES.get(tensor.Type(), str(tensor.Type()))
    shape = tensor.ShapeAsNumpy().tolist() if tensor.ShapeLength() else []
    quant = tensor.Quantization()
    if quant is not None and quant.ScaleLength() == 1:
        return f"{dtype.lower()} {shape} scale {quant.Scale(0):.6g} zp {quant.ZeroPoint(0)}"
    return f"{dtype.lower()} {shape}"


def weight_granularity(graph, op):
    weights = graph.Tensors(op.Inputs(1))
    quant = weights.Quantization()
    if quant is None or quant.ScaleLength() == 0:
        return "unquantized"
    if quant.ScaleLength() == 1:
        return "per-tensor"
    return f"per-channel ({quant.ScaleLength()} scales, axis {quant.QuantizedDimension()})"


def run_oracle(oracle, path, graph):
    """Run tflm_dump.py on a seeded random input and return (ok, message)."""
    tensor = graph.Tensors(graph.Inputs(0))
    dtype = NUMPY_TYPES[TENSOR_TYPES[tensor.Type()]]
    shape = tensor.ShapeAsNumpy().tolist()
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        sample = rng.uniform(-1.0, 1.0, shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        sample = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
    with tempfile.TemporaryDirectory() as scratch:
        input_path = os.path.join(scratch, "input.npy")
        np.save(input_path, sample)
        result = subprocess.run(
            [sys.executable, str(oracle), str(path), input_path, os.path.join(scratch, "dump")],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            return False, lines[-1] if lines else f"exit status {result.returncode}"
        output = np.load(os.path.join(scratch, "dump", "output0.npy"))
        return True, f"output {output.dtype} {list(output.shape)}"


def describe(path, oracle, markdown):
    buffer = path.read_bytes()
    model = tflite.Model.GetRootAsModel(buffer, 0)
    graph = model.Subgraphs(0)
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    names = [op_name(model, op) for op in ops]
    inputs = [tensor_summary(graph, graph.Inputs(i)) for i in range(graph.InputsLength())]
    outputs = [tensor_summary(graph, graph.Outputs(i)) for i in range(graph.OutputsLength())]
    weights = [
        f"{name} {weight_granularity(graph, op)}"
        for name, op in zip(names, ops)
        if name in WEIGHTED_OPS
    ]
    ok, message = run_oracle(oracle, path, graph) if oracle else (False, "oracle script not found")

    if markdown:
        print(f"| {path.name} | {', '.join(names)} | {'; '.join(inputs)} | {'; '.join(outputs)} | {len(buffer)} |")
    else:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({len(buffer)} bytes)")
        print(f"  ops:     {', '.join(names)}")
        print(f"  inputs:  {'; '.join(inputs)}")
        print(f"  outputs: {'; '.join(outputs)}")
        for line in weights:
            print(f"  weights: {line}")
        print(f"  oracle:  {'ok' if ok else 'FAILED'}: {message}")
    return ok


def main():
    args = sys.argv[1:]
    markdown = "--markdown" in args
    paths = [Path(a).resolve() for a in args if a != "--markdown"]
    if not paths:
        paths = [ROOT / "examples" / "tiny" / "model.tflite"]
        paths += sorted((ROOT / "tests" / "data" / "models").glob("*.tflite"))
    oracle = Path(os.environ.get("FXSIM_ORACLE_SCRIPT", DEFAULT_ORACLE))
    if not oracle.is_file():
        print(f"warning: oracle script {oracle} not found; models are listed but not run", file=sys.stderr)
        oracle = None

    failures = [path for path in paths if not describe(path, oracle, markdown)]
    if oracle and failures:
        sys.exit(f"the oracle failed on {len(failures)} model(s): {', '.join(p.name for p in failures)}")


if __name__ == "__main__":
    main()
