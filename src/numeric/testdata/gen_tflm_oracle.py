"""Record int8 operator outputs of the TFLite Micro reference kernels.

usage: PYTHON gen_tflm_oracle.py > tflm_oracle.txt

PYTHON needs the `tflite-micro`, `tflite` (schema bindings), `flatbuffers`
and `numpy` packages. The script builds one-operator .tflite models
(FULLY_CONNECTED, LOGISTIC, TANH, SOFTMAX) in memory, runs them on the
TFLite Micro interpreter and prints, per run, a header line and the values:

    fully_connected INPUT_SCALE_BITS BIAS OUTPUT_ZERO_POINT   then 256 outputs
    logistic|tanh INPUT_SCALE_BITS INPUT_ZERO_POINT            then 256 outputs
    softmax BETA_BITS INPUT_SCALE_BITS DEPTH                   then inputs, outputs

Scales are f32 bit patterns in hex. The unary operators and the fully
connected layer see every int8 input -128..=127 once.
"""
import importlib
import struct

import flatbuffers
import numpy as np
from tflite_micro import runtime

schema = {name: importlib.import_module('tflite.' + name) for name in [
    'Model', 'SubGraph', 'Tensor', 'Buffer', 'Operator', 'OperatorCode',
    'QuantizationParameters', 'FullyConnectedOptions', 'SoftmaxOptions']}
TENSOR_TYPES = {np.int8: 9, np.int32: 2}
FULLY_CONNECTED, LOGISTIC, SOFTMAX, TANH = 9, 14, 25, 28
FULLY_CONNECTED_OPTIONS, SOFTMAX_OPTIONS = 8, 9


def vector(builder, start, items, kind):
    start(builder, len(items))
    for item in reversed(items):
        getattr(builder, 'Prepend' + kind)(item)
    return builder.EndVector()


def add_buffers(b, tensors):
    """Add buffer 0 (empty) and one buffer per constant tensor; return the
    buffer offsets and each tensor's buffer index."""
    B = schema['Buffer']
    contents = [None]
    buffer_of_tensor = []
    for tensor in tensors:
        if tensor.get('data') is None:
            buffer_of_tensor.append(0)
        else:
            buffer_of_tensor.append(len(contents))
            contents.append(np.asarray(tensor['data'], dtype=tensor['dtype']).tobytes())

    buffers = []
    for content in contents:
        data = None
        if content is not None:
            b.StartVector(1, len(content), 16)
            for byte in reversed(content):
                b.PrependUint8(byte)
            data = b.EndVector()
        B.BufferStart(b)
        if data is not None:
            B.BufferAddData(b, data)
        buffers.append(B.BufferEnd(b))
    return buffers, buffer_of_tensor


def add_tensor(b, index, tensor, buffer_index):
    """Add a per-tensor quantized tensor; return its offset."""
    T, QP = schema['Tensor'], schema['QuantizationParameters']
    name = b.CreateString(f't{index}')
    shape = vector(b, T.TensorStartShapeVector, list(tensor['shape']), 'Int32')
    scales = vector(b, QP.QuantizationParametersStartScaleVector, [tensor['scale']], 'Float32')
    zero_points = vector(b, QP.QuantizationParametersStartZeroPointVector, [tensor['zp']], 'Int64')
    QP.QuantizationParametersStart(b)
    QP.QuantizationParametersAddScale(b, scales)
    QP.QuantizationParametersAddZeroPoint(b, zero_points)
    quantization = QP.QuantizationParametersEnd(b)

    T.TensorStart(b)
    T.TensorAddShape(b, shape)
    T.TensorAddType(b, TENSOR_TYPES[tensor['dtype']])
    T.TensorAddBuffer(b, buffer_index)
    T.TensorAddName(b, name)
    T.TensorAddQuantization(b, quantization)
    return T.TensorEnd(b)


def add_operator(b, op_inputs, op_outputs, options):
    """Add the operator (opcode index 0) with its builtin options."""
    O = schema['Operator']
    options_type, options_offset = options(b) if options else (0, None)
    inputs = vector(b, O.OperatorStartInputsVector, op_inputs, 'Int32')
    outputs = vector(b, O.OperatorStartOutputsVector, op_outputs, 'Int32')
    O.OperatorStart(b)
    O.OperatorAddOpcodeIndex(b, 0)
    O.OperatorAddInputs(b, inputs)
    O.OperatorAddOutputs(b, outputs)
    if options_offset is not None:
        O.OperatorAddBuiltinOptionsType(b, options_type)
        O.OperatorAddBuiltinOptions(b, options_offset)
    return O.OperatorEnd(b)


def add_subgraph(b, tensor_offsets, graph_inputs, graph_outputs, operator):
    SG = schema['SubGraph']
    tensor_vector = vector(b, SG.SubGraphStartTensorsVector, tensor_offsets, 'UOffsetTRelative')
    input_vector = vector(b, SG.SubGraphStartInputsVector, graph_inputs, 'Int32')
    output_vector = vector(b, SG.SubGraphStartOutputsVector, graph_outputs, 'Int32')
    operator_vector = vector(b, SG.SubGraphStartOperatorsVector, [operator], 'UOffsetTRelative')
    SG.SubGraphStart(b)
    SG.SubGraphAddTensors(b, tensor_vector)
    SG.SubGraphAddInputs(b, input_vector)
    SG.SubGraphAddOutputs(b, output_vector)
    SG.SubGraphAddOperators(b, operator_vector)
    return SG.SubGraphEnd(b)


def finish_model(b, opcode, subgraph, buffers):
    M, OC = schema['Model'], schema['OperatorCode']
    OC.OperatorCodeStart(b)
    OC.OperatorCodeAddDeprecatedBuiltinCode(b, opcode)
    OC.OperatorCodeAddBuiltinCode(b, opcode)
    OC.OperatorCodeAddVersion(b, 1)
    operator_code = OC.OperatorCodeEnd(b)

    code_vector = vector(b, M.ModelStartOperatorCodesVector, [operator_code], 'UOffsetTRelative')
    subgraph_vector = vector(b, M.ModelStartSubgraphsVector, [subgraph], 'UOffsetTRelative')
    buffer_vector = vector(b, M.ModelStartBuffersVector, buffers, 'UOffsetTRelative')
    M.ModelStart(b)
    M.ModelAddVersion(b, 3)
    M.ModelAddOperatorCodes(b, code_vector)
    M.ModelAddSubgraphs(b, subgraph_vector)
    M.ModelAddBuffers(b, buffer_vector)
    b.Finish(M.ModelEnd(b), file_identifier=b'TFL3')
    return bytes(b.Output())


def build_model(opcode, tensors, op_inputs, op_outputs, options=None):
    """Return a one-operator model; tensors are dicts of shape, dtype,
    scale, zp and optional constant data, and the non-constant operator
    inputs are the graph inputs."""
    b = flatbuffers.Builder(1024)
    buffers, buffer_of_tensor = add_buffers(b, tensors)
    tensor_offsets = [add_tensor(b, i, t, buffer_of_tensor[i]) for i, t in enumerate(tensors)]
    operator = add_operator(b, op_inputs, op_outputs, options)

    graph_inputs = [i for i in op_inputs if tensors[i].get('data') is None]
    subgraph = add_subgraph(b, tensor_offsets, graph_inputs, op_outputs, operator)
    return finish_model(b, opcode, subgraph, buffers)


def run(model, x):
    interpreter = runtime.Interpreter.from_bytes(model)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return interpreter.get_output(0)


def f32(value):
    return float(np.float32(value))


def f32_bits(value):
    return '0x%08x' % struct.unpack('<I', struct.pack('<f', np.float32(value)))[0]


ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
lines = []


def record_fully_connected(input_scale, bias, output_zero_point):
    """Record a fully connected layer of one input channel, weight 1 at
    scale 1 and output scale 1."""
    FC = schema['FullyConnectedOptions']

    def options(b):
        FC.FullyConnectedOptionsStart(b)
        return FULLY_CONNECTED_OPTIONS, FC.FullyConnectedOptionsEnd(b)
    tensors = [
        dict(shape=[256, 1], dtype=np.int8, scale=input_scale, zp=0),
        dict(shape=[1, 1], dtype=np.int8, scale=1.0, zp=0, data=[1]),
        dict(shape=[1], dtype=np.int32, scale=input_scale, zp=0, data=[bias]),
        dict(shape=[256, 1], dtype=np.int8, scale=1.0, zp=output_zero_point),
    ]
    y = run(build_model(FULLY_CONNECTED, tensors, [0, 1, 2], [3], options), ALL_INT8.reshape(256, 1))
    lines.append(f'fully_connected {f32_bits(input_scale)} {bias} {output_zero_point}')
    lines.append(' '.join(map(str, y.reshape(-1))))


def record_unary(name, opcode, input_scale, input_zero_point, output_scale, output_zero_point):
    tensors = [
        dict(shape=[1, 256], dtype=np.int8, scale=input_scale, zp=input_zero_point),
        dict(shape=[1, 256], dtype=np.int8, scale=output_scale, zp=output_zero_point),
    ]
    y = run(build_model(opcode, tensors, [0], [1]), ALL_INT8.reshape(1, 256))
    lines.append(f'{name} {f32_bits(input_scale)} {input_zero_point}')
    lines.append(' '.join(map(str, y.reshape(-1))))


def record_softmax(beta, input_scale, rows):
    SM = schema['SoftmaxOptions']

    def options(b):
        SM.SoftmaxOptionsStart(b)
        SM.SoftmaxOptionsAddBeta(b, beta)
        return SOFTMAX_OPTIONS, SM.SoftmaxOptionsEnd(b)
    rows = np.asarray(rows, dtype=np.int8)
    tensors = [
        dict(shape=list(rows.shape), dtype=np.int8, scale=input_scale, zp=0),
        dict(shape=list(rows.shape), dtype=np.int8, scale=1.0 / 256, zp=-128),
    ]
    y = run(build_model(SOFTMAX, tensors, [0], [1], options), rows)
    lines.append(f'softmax {f32_bits(beta)} {f32_bits(input_scale)} {rows.shape[1]}')
    lines.append(' '.join(map(str, rows.reshape(-1))))
    lines.append(' '.join(map(str, y.reshape(-1))))


rng = np.random.default_rng(7)
record_fully_connected(0.25, 0, 0)
record_fully_connected(f32(2 ** -9 * 1583594044 / 2 ** 31), 7984, 0)
for _ in range(6):
    record_fully_connected(f32(rng.uniform(0.002, 0.9)), int(rng.integers(-200, 200)),
                           int(rng.integers(-20, 20)))
record_fully_connected(f32(3.7), 3, 0)

for scale, zero_point in [(1 / 16, 0), (0.1, -3), (0.0234375, 10), (0.3, -128), (0.05, 7),
                          (f32(rng.uniform(0.01, 0.2)), -50)]:
    record_unary('logistic', LOGISTIC, scale, zero_point, 1 / 256, -128)
for scale, zero_point in [(1 / 16, 0), (0.1, -3), (0.0234375, 10), (0.3, -128), (0.05, 7)]:
    record_unary('tanh', TANH, scale, zero_point, 1 / 128, 0)

record_softmax(1.0, 1 / 16, rng.integers(-128, 128, size=(4, 10)))
record_softmax(1.0, 0.1, rng.integers(-128, 128, size=(3, 7)))
record_softmax(1.0, 0.0390625, rng.integers(-20, 20, size=(2, 33)))
record_softmax(0.5, 0.2, rng.integers(-128, 128, size=(2, 16)))
record_softmax(1.0, f32(rng.uniform(0.005, 0.3)), rng.integers(-128, 128, size=(3, 12)))
record_softmax(1.0, 0.01, np.zeros((1, 300), dtype=np.int8))
record_softmax(1.0, 0.01, np.concatenate([np.full((1, 1), 127), np.full((1, 40), -128)], axis=1))
record_softmax(2.0, 1.0, rng.integers(-128, 128, size=(2, 9)))
print('\n'.join(lines))
