"""Write small hand-built TFLite models for operator variants that the
converter-made models in tests/data/models do not reach.

usage: make_op_models.py [OUTDIR]   (default: tests/data/op_models)

Each model is assembled directly with the flatbuffers builder of the
`tflite` package (the TFLite schema), so quantization parameters, fused
activations and operand types can be set exactly: int8 and int16
requantization chains, pooling with fused activations, ADD and MUL with
activations and broadcasting against constants, int16 MUL / ADD / MEAN /
pooling / PAD / CONCATENATION, SOFTMAX with int16 output and beta != 1,
LOGISTIC on several input scales, PADV2, and 5-D TRANSPOSE. Every model
runs on the TFLite Micro reference interpreter. The output is
deterministic: the same script writes the same bytes.
"""
import importlib
import os
import sys

import flatbuffers
import numpy as np
# The schema modules, not the classes of the same name that the package root
# re-exports (which `import tflite.X as X` would return): the builder
# functions (Start, Add..., End) are module-level.
AddOptions = importlib.import_module("tflite.AddOptions")
Buffer = importlib.import_module("tflite.Buffer")
ConcatenationOptions = importlib.import_module("tflite.ConcatenationOptions")
Model = importlib.import_module("tflite.Model")
MulOptions = importlib.import_module("tflite.MulOptions")
Operator = importlib.import_module("tflite.Operator")
OperatorCode = importlib.import_module("tflite.OperatorCode")
Pool2DOptions = importlib.import_module("tflite.Pool2DOptions")
QuantizationParameters = importlib.import_module("tflite.QuantizationParameters")
ReducerOptions = importlib.import_module("tflite.ReducerOptions")
ReshapeOptions = importlib.import_module("tflite.ReshapeOptions")
SoftmaxOptions = importlib.import_module("tflite.SoftmaxOptions")
SubGraph = importlib.import_module("tflite.SubGraph")
Tensor = importlib.import_module("tflite.Tensor")
from tflite.ActivationFunctionType import ActivationFunctionType as Act
from tflite.BuiltinOperator import BuiltinOperator as Op
from tflite.BuiltinOptions import BuiltinOptions as Options
from tflite.Padding import Padding
from tflite.TensorType import TensorType

# Size of the unused buffer that enlarges each file; see ModelBuilder.serialise.
ARENA_PADDING_BYTES = 16 * 1024

NUMPY_TYPES = {
    TensorType.INT8: np.int8,
    TensorType.INT16: np.int16,
    TensorType.INT32: np.int32,
    TensorType.FLOAT32: np.float32,
}


class ModelBuilder:
    """Collects tensors and operators of one subgraph, then serialises."""

    def __init__(self, name):
        self.name = name
        self.tensors = []  # (name, shape, type, quant or None, data bytes or None)
        self.ops = []  # (opcode, inputs, outputs, options type, options builder fn)
        self.inputs = []
        self.outputs = []

    def tensor(self, name, shape, tensor_type, quant=None, data=None):
        raw = None
        if data is not None:
            raw = np.asarray(data, dtype=NUMPY_TYPES[tensor_type]).reshape(shape).tobytes()
        self.tensors.append((name, list(shape), tensor_type, quant, raw))
        return len(self.tensors) - 1

    def op(self, opcode, inputs, outputs, options_type=0, options=None):
        self.ops.append((opcode, inputs, outputs, options_type, options))

    def serialise(self):
        b = flatbuffers.Builder(1024)
        opcodes = sorted({op[0] for op in self.ops})

        def int_vector(start, values):
            start(b, len(values))
            for value in reversed(values):
                b.PrependInt32(value)
            return b.EndVector()

        # Buffers: 0 is the empty sentinel, 1 an unused block of zeros, then
        # one per constant tensor. The zeros are there because the TFLite Micro
        # Python interpreter sizes its arena at ten times the file size, which
        # is too small for these tiny models when every tensor is preserved.
        buffer_offsets = []
        Buffer.Start(b)
        buffer_offsets.append(Buffer.End(b))
        arena_padding = b.CreateByteVector(bytes(ARENA_PADDING_BYTES))
        Buffer.Start(b)
        Buffer.AddData(b, arena_padding)
        buffer_offsets.append(Buffer.End(b))
        buffer_of = {}
        for index, (_, _, _, _, raw) in enumerate(self.tensors):
            if raw is None:
                continue
            data = b.CreateByteVector(raw)
            Buffer.Start(b)
            Buffer.AddData(b, data)
            buffer_of[index] = len(buffer_offsets)
            buffer_offsets.append(Buffer.End(b))

        tensor_offsets = []
        for index, (name, shape, tensor_type, quant, _) in enumerate(self.tensors):
            name_offset = b.CreateString(name)
            shape_offset = int_vector(Tensor.StartShapeVector, shape)
            quant_offset = None
            if quant is not None:
                scale, zero_point = quant
                QuantizationParameters.StartScaleVector(b, 1)
                b.PrependFloat32(scale)
                scales = b.EndVector()
                QuantizationParameters.StartZeroPointVector(b, 1)
                b.PrependInt64(zero_point)
                zero_points = b.EndVector()
                QuantizationParameters.Start(b)
                QuantizationParameters.AddScale(b, scales)
                QuantizationParameters.AddZeroPoint(b, zero_points)
                quant_offset = QuantizationParameters.End(b)
            Tensor.Start(b)
            Tensor.AddShape(b, shape_offset)
            Tensor.AddType(b, tensor_type)
            Tensor.AddBuffer(b, buffer_of.get(index, 0))
            Tensor.AddName(b, name_offset)
            if quant_offset is not None:
                Tensor.AddQuantization(b, quant_offset)
            tensor_offsets.append(Tensor.End(b))

        op_offsets = []
        for opcode, inputs, outputs, options_type, options in self.ops:
            options_offset = options(b) if options else None
            inputs_offset = int_vector(Operator.StartInputsVector, inputs)
            outputs_offset = int_vector(Operator.StartOutputsVector, outputs)
            Operator.Start(b)
            Operator.AddOpcodeIndex(b, opcodes.index(opcode))
            Operator.AddInputs(b, inputs_offset)
            Operator.AddOutputs(b, outputs_offset)
            if options_offset is not None:
                Operator.AddBuiltinOptionsType(b, options_type)
                Operator.AddBuiltinOptions(b, options_offset)
            op_offsets.append(Operator.End(b))

        def offset_vector(start, offsets):
            start(b, len(offsets))
            for offset in reversed(offsets):
                b.PrependUOffsetTRelative(offset)
            return b.EndVector()

        tensors_vector = offset_vector(SubGraph.StartTensorsVector, tensor_offsets)
        ops_vector = offset_vector(SubGraph.StartOperatorsVector, op_offsets)
        inputs_vector = int_vector(SubGraph.StartInputsVector, self.inputs)
        outputs_vector = int_vector(SubGraph.StartOutputsVector, self.outputs)
        subgraph_name = b.CreateString(self.name)
        SubGraph.Start(b)
        SubGraph.AddTensors(b, tensors_vector)
        SubGraph.AddOperators(b, ops_vector)
        SubGraph.AddInputs(b, inputs_vector)
        SubGraph.AddOutputs(b, outputs_vector)
        SubGraph.AddName(b, subgraph_name)
        subgraph = SubGraph.End(b)

        code_offsets = []
        for opcode in opcodes:
            OperatorCode.Start(b)
            OperatorCode.AddDeprecatedBuiltinCode(b, min(opcode, 127))
            OperatorCode.AddBuiltinCode(b, opcode)
            OperatorCode.AddVersion(b, 1)
            code_offsets.append(OperatorCode.End(b))

        codes_vector = offset_vector(Model.StartOperatorCodesVector, code_offsets)
        subgraphs_vector = offset_vector(Model.StartSubgraphsVector, [subgraph])
        buffers_vector = offset_vector(Model.StartBuffersVector, buffer_offsets)
        description = b.CreateString("fxsim make_op_models.py")
        Model.Start(b)
        Model.AddVersion(b, 3)
        Model.AddOperatorCodes(b, codes_vector)
        Model.AddSubgraphs(b, subgraphs_vector)
        Model.AddDescription(b, description)
        Model.AddBuffers(b, buffers_vector)
        b.Finish(Model.End(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def fused(module, activation):
    """Options builder for ADD or MUL with a fused activation."""
    def build(b):
        module.Start(b)
        module.AddFusedActivationFunction(b, activation)
        return module.End(b)
    return build


def pool(filter_hw, stride_hw, padding, activation):
    def build(b):
        Pool2DOptions.Start(b)
        Pool2DOptions.AddPadding(b, padding)
        Pool2DOptions.AddStrideH(b, stride_hw[0])
        Pool2DOptions.AddStrideW(b, stride_hw[1])
        Pool2DOptions.AddFilterHeight(b, filter_hw[0])
        Pool2DOptions.AddFilterWidth(b, filter_hw[1])
        Pool2DOptions.AddFusedActivationFunction(b, activation)
        return Pool2DOptions.End(b)
    return build


def concatenation(axis):
    def build(b):
        ConcatenationOptions.Start(b)
        ConcatenationOptions.AddAxis(b, axis)
        return ConcatenationOptions.End(b)
    return build


def softmax(beta):
    def build(b):
        SoftmaxOptions.Start(b)
        SoftmaxOptions.AddBeta(b, beta)
        return SoftmaxOptions.End(b)
    return build


def reducer(keep_dims):
    def build(b):
        ReducerOptions.Start(b)
        ReducerOptions.AddKeepDims(b, keep_dims)
        return ReducerOptions.End(b)
    return build


def reshape(new_shape):
    def build(b):
        ReshapeOptions.StartNewShapeVector(b, len(new_shape))
        for value in reversed(new_shape):
            b.PrependInt32(value)
        shape = b.EndVector()
        ReshapeOptions.Start(b)
        ReshapeOptions.AddNewShape(b, shape)
        return ReshapeOptions.End(b)
    return build


def constant_values(rng, count, low, high):
    return rng.integers(low, high + 1, size=count)


def requantize_chain():
    """int8 -> int8 -> int16 -> int16 -> int8 requantization, and
    DEQUANTIZE of an int16 and an int8 tensor."""
    m = ModelBuilder("requantize_chain")
    i8, i16, f32 = TensorType.INT8, TensorType.INT16, TensorType.FLOAT32
    shape = [1, 4, 5, 3]
    x = m.tensor("input", shape, i8, (0.05, -3))
    a = m.tensor("int8_rescaled", shape, i8, (0.0173, 11))
    b = m.tensor("int16_widened", shape, i16, (0.00041, 0))
    c = m.tensor("int16_rescaled", shape, i16, (0.0027, 0))
    d = m.tensor("int8_narrowed", shape, i8, (0.0391, -20))
    e = m.tensor("int16_dequantized", shape, f32)
    f = m.tensor("int8_dequantized", shape, f32)
    m.op(Op.QUANTIZE, [x], [a])
    m.op(Op.QUANTIZE, [a], [b])
    m.op(Op.QUANTIZE, [b], [c])
    m.op(Op.QUANTIZE, [c], [d])
    m.op(Op.DEQUANTIZE, [c], [e])
    m.op(Op.DEQUANTIZE, [d], [f])
    m.inputs, m.outputs = [x], [f, e]
    return m


def pool_activations():
    """AVERAGE_POOL_2D with RELU6 and MAX_POOL_2D with RELU_N1_TO_1 and RELU,
    on odd sizes with SAME padding and unequal strides."""
    m = ModelBuilder("pool_activations")
    i8 = TensorType.INT8
    # 0.0 is -30 and 1.0 is 70, so RELU_N1_TO_1 clips only above; 6.0 and
    # -1.0 fall outside int8, so RELU6 clips only below.
    quant = (0.01, -30)
    x = m.tensor("input", [1, 7, 6, 3], i8, quant)
    a = m.tensor("average_relu6", [1, 4, 6, 3], i8, quant)
    b = m.tensor("max_relu_n1_to_1", [1, 4, 3, 3], i8, quant)
    c = m.tensor("average_relu_valid", [1, 2, 2, 3], i8, quant)
    m.op(Op.AVERAGE_POOL_2D, [x], [a], Options.Pool2DOptions, pool((2, 3), (2, 1), Padding.SAME, Act.RELU6))
    m.op(Op.MAX_POOL_2D, [a], [b], Options.Pool2DOptions, pool((3, 2), (1, 2), Padding.SAME, Act.RELU_N1_TO_1))
    m.op(Op.AVERAGE_POOL_2D, [b], [c], Options.Pool2DOptions, pool((3, 2), (1, 1), Padding.VALID, Act.RELU))
    m.inputs, m.outputs = [x], [c]
    return m


def add_mul_activations(rng):
    """ADD and MUL with fused RELU, RELU6 and RELU_N1_TO_1, broadcasting a
    graph tensor against constants of lower rank and a scalar."""
    m = ModelBuilder("add_mul_activations")
    i8, i32 = TensorType.INT8, TensorType.INT32
    x = m.tensor("input", [1, 3, 4, 2], i8, (0.031, 5))
    column = m.tensor("column", [4, 1], i8, (0.017, -9), constant_values(rng, 4, -128, 127))
    scalar = m.tensor("scalar", [], i8, (0.0042, 0), [97])
    row = m.tensor("row", [1, 1, 1, 2], i8, (0.011, 100), [-128, 127])
    a = m.tensor("add_relu", [1, 3, 4, 2], i8, (0.029, -128))
    b = m.tensor("mul_relu6", [1, 3, 4, 2], i8, (0.026, -40))
    c = m.tensor("add_relu_n1_to_1", [1, 3, 4, 2], i8, (0.0093, 3))
    d = m.tensor("mul_broadcast_both", [1, 3, 4, 2], i8, (0.0007, -1))
    m.op(Op.ADD, [x, column], [a], Options.AddOptions, fused(AddOptions, Act.RELU))
    m.op(Op.MUL, [scalar, a], [b], Options.MulOptions, fused(MulOptions, Act.RELU6))
    m.op(Op.ADD, [b, row], [c], Options.AddOptions, fused(AddOptions, Act.RELU_N1_TO_1))
    m.op(Op.MUL, [c, column], [d], Options.MulOptions, fused(MulOptions, Act.NONE))
    _ = i32
    m.inputs, m.outputs = [x], [d]
    return m


def int16_ops(rng):
    """int16 (zero point 0) MUL, ADD, AVERAGE_POOL_2D, MAX_POOL_2D, PAD,
    MEAN and CONCATENATION."""
    m = ModelBuilder("int16_ops")
    i16, i32 = TensorType.INT16, TensorType.INT32
    x = m.tensor("input", [1, 4, 5, 2], i16, (0.0003, 0))
    gains = m.tensor("gains", [2], i16, (0.00005, 0), constant_values(rng, 2, -32768, 32767))
    bias = m.tensor("bias", [1, 1, 5, 1], i16, (0.0002, 0), constant_values(rng, 5, -32768, 32767))
    a = m.tensor("mul", [1, 4, 5, 2], i16, (0.00021, 0))
    b = m.tensor("add_relu", [1, 4, 5, 2], i16, (0.00033, 0))
    c = m.tensor("average", [1, 2, 3, 2], i16, (0.00033, 0))
    d = m.tensor("max", [1, 2, 3, 2], i16, (0.00033, 0))
    paddings = m.tensor("paddings", [4, 2], i32, None, [0, 0, 1, 0, 0, 2, 0, 0])
    e = m.tensor("padded", [1, 3, 5, 2], i16, (0.00033, 0))
    axes = m.tensor("axes", [2], i32, None, [1, 2])
    f = m.tensor("mean", [1, 1, 1, 2], i16, (0.00019, 0))
    g = m.tensor("mean_flat", [1, 2], i16, (0.00019, 0))
    h = m.tensor("concatenated", [1, 4], i16, (0.00019, 0))
    new_shape = m.tensor("new_shape", [2], i32, None, [1, 2])
    m.op(Op.MUL, [x, gains], [a], Options.MulOptions, fused(MulOptions, Act.NONE))
    m.op(Op.ADD, [a, bias], [b], Options.AddOptions, fused(AddOptions, Act.RELU))
    m.op(Op.AVERAGE_POOL_2D, [b], [c], Options.Pool2DOptions, pool((3, 3), (2, 2), Padding.SAME, Act.NONE))
    m.op(Op.MAX_POOL_2D, [b], [d], Options.Pool2DOptions, pool((2, 2), (2, 2), Padding.SAME, Act.NONE))
    m.op(Op.PAD, [c, paddings], [e])
    m.op(Op.MEAN, [e, axes], [f], Options.ReducerOptions, reducer(True))
    m.op(Op.RESHAPE, [f, new_shape], [g], Options.ReshapeOptions, reshape([1, 2]))
    m.op(Op.CONCATENATION, [g, g], [h], Options.ConcatenationOptions, concatenation(-1))
    _ = d
    m.inputs, m.outputs = [x], [h, d]
    return m


def softmax_logistic():
    """SOFTMAX with int8 and int16 outputs and beta != 1, and LOGISTIC on a
    small and a large input scale."""
    m = ModelBuilder("softmax_logistic")
    i8, i16 = TensorType.INT8, TensorType.INT16
    x = m.tensor("input", [1, 2, 3, 10], i8, (0.0625, 7))
    a = m.tensor("softmax_int8", [1, 2, 3, 10], i8, (1.0 / 256.0, -128))
    b = m.tensor("softmax_int16_beta", [1, 2, 3, 10], i16, (1.0 / 65536.0, -32768))
    c = m.tensor("logistic_small_scale", [1, 2, 3, 10], i8, (1.0 / 256.0, -128))
    y = m.tensor("rescaled", [1, 2, 3, 10], i8, (0.37, -5))
    d = m.tensor("logistic_large_scale", [1, 2, 3, 10], i8, (1.0 / 256.0, -128))
    e = m.tensor("softmax_sharp", [1, 2, 3, 10], i8, (1.0 / 256.0, -128))
    m.op(Op.SOFTMAX, [x], [a], Options.SoftmaxOptions, softmax(1.0))
    m.op(Op.SOFTMAX, [x], [b], Options.SoftmaxOptions, softmax(0.7))
    m.op(Op.LOGISTIC, [x], [c])
    m.op(Op.QUANTIZE, [x], [y])
    m.op(Op.LOGISTIC, [y], [d])
    m.op(Op.SOFTMAX, [y], [e], Options.SoftmaxOptions, softmax(2.5))
    m.inputs, m.outputs = [x], [a, b, c, d, e]
    return m


def padv2_transpose5d(rng):
    """PADV2 with a constant value, RESHAPE to 5-D, a 5-D TRANSPOSE, and
    CONCATENATION with a constant on a negative axis."""
    m = ModelBuilder("padv2_transpose5d")
    i8, i32 = TensorType.INT8, TensorType.INT32
    quant = (0.02, 4)
    x = m.tensor("input", [1, 3, 4, 2], i8, quant)
    paddings = m.tensor("paddings", [4, 2], i32, None, [0, 0, 2, 1, 0, 3, 1, 0])
    value = m.tensor("pad_value", [], i8, quant, [-77])
    a = m.tensor("padded", [1, 6, 7, 3], i8, quant)
    shape5 = m.tensor("shape5", [5], i32, None, [1, 6, 7, 3, 1])
    b = m.tensor("rank5", [1, 6, 7, 3, 1], i8, quant)
    perm = m.tensor("perm", [5], i32, None, [4, 2, 0, 3, 1])
    c = m.tensor("transposed", [1, 7, 1, 3, 6], i8, quant)
    other = m.tensor("other", [1, 7, 1, 2, 6], i8, quant, constant_values(rng, 84, -128, 127))
    d = m.tensor("concatenated", [1, 7, 1, 5, 6], i8, quant)
    m.op(Op.PADV2, [x, paddings, value], [a])
    m.op(Op.RESHAPE, [a, shape5], [b], Options.ReshapeOptions, reshape([1, 6, 7, 3, 1]))
    m.op(Op.TRANSPOSE, [b, perm], [c])
    m.op(Op.CONCATENATION, [c, other], [d], Options.ConcatenationOptions, concatenation(-2))
    m.inputs, m.outputs = [x], [d]
    return m


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "data", "op_models")
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20240611)
    models = [
        requantize_chain(),
        pool_activations(),
        add_mul_activations(rng),
        int16_ops(rng),
        softmax_logistic(),
        padv2_transpose5d(rng),
    ]
    for model in models:
        path = os.path.join(outdir, model.name + ".tflite")
        with open(path, "wb") as f:
            f.write(model.serialise())
        print(path)


if __name__ == "__main__":
    main()
