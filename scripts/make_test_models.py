"""Build the small quantized TFLite models used by fxsim's example and tests.

usage: python scripts/make_test_models.py

Run it with a Python environment that has TensorFlow (CPU is enough):

    python3 -m venv .venv-tf
    .venv-tf/bin/pip install tensorflow==2.21.0
    .venv-tf/bin/python scripts/make_test_models.py

The committed files were made with TensorFlow 2.21.0 and Keras 3.15.1 on
Python 3.11, x86-64 Linux. Another TensorFlow version may emit a different
graph (fused or split ops, other scales), so regenerate with that version
only when the tests are updated to match.

Every model gets random weights from a fixed seed and is converted with
full-integer post-training quantization, calibrated on a seeded
representative dataset, so two runs with the same TensorFlow version write
the same bytes. It writes, relative to the repository root:

- examples/tiny/model.tflite and examples/tiny/input.npy: an int8 CNN and
  one int8 input for it;
- tests/data/models/*.tflite: int8 models covering ops and geometries the
  shared real-world models lack, and int16x8 models (int16 activations,
  int8 weights).

scripts/describe_models.py lists the ops of each file and checks that the
TFLite Micro reference interpreter runs it.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
# TensorFlow's generated reader for the .tflite schema. It reads the converted
# model's input quantization without the deprecated tf.lite.Interpreter.
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = ROOT / "examples" / "tiny"
MODELS_DIR = ROOT / "tests" / "data" / "models"

CALIBRATION_SAMPLES = 64
SIZE_LIMIT_BYTES = 50 * 1024


def randomize_weights(model, seed):
    """Replace every weight with seeded random values.

    Kernels are drawn from N(0, 2 / fan_in) so activations keep roughly the
    input's range from layer to layer. Biases are drawn from N(0, 0.1^2) so
    that the quantized int32 biases are not all zero.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        replaced = []
        for weight in weights:
            if weight.ndim == 1:
                replaced.append(rng.normal(0.0, 0.1, weight.shape))
                continue
            if isinstance(layer, layers.DepthwiseConv2D):
                # The depthwise kernel is (kh, kw, channels, multiplier), and
                # each output sums kh * kw products.
                fan_in = weight.shape[0] * weight.shape[1]
            else:
                fan_in = int(np.prod(weight.shape[:-1]))
            replaced.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), weight.shape))
        layer.set_weights([w.astype(np.float32) for w in replaced])


def calibration_data(input_shape, seed):
    """Return a generator factory of seeded float samples in [-1, 1)."""

    def generate():
        rng = np.random.default_rng(seed)
        for _ in range(CALIBRATION_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, input_shape).astype(np.float32)]

    return generate


def convert(model, seed, activations="int8", io_type="int8"):
    """Quantize a Keras model with post-training full-integer quantization.

    activations: "int8", or "int16" for int16 activations with int8 weights.
    io_type: the model's input and output type: "int8", "int16", or
    "float32" to keep float input and output, which makes the converter add
    QUANTIZE and DEQUANTIZE ops at the edges.
    """
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration_data(tuple(model.inputs[0].shape), seed)
    if activations == "int16":
        ops_set = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    else:
        ops_set = tf.lite.OpsSet.TFLITE_BUILTINS_INT8
    converter.target_spec.supported_ops = [ops_set]
    types = {"int8": tf.int8, "int16": tf.int16, "float32": tf.float32}
    converter.inference_input_type = types[io_type]
    converter.inference_output_type = types[io_type]
    return converter.convert()


def build(name, seed, make_graph):
    """Build a Keras model from make_graph() and give it seeded weights."""
    # Keras numbers layer names globally ("conv2d_7"), and the names end up
    # in the tensor names, so reset the counters to keep each file
    # independent of the models built before it.
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    inputs, outputs = make_graph()
    model = keras.Model(inputs, outputs, name=name)
    randomize_weights(model, seed)
    return model


def tiny_cnn():
    inputs = keras.Input((16, 16, 1), batch_size=1)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10)(x)
    outputs = layers.Softmax()(x)
    return inputs, outputs


def conv_dilated():
    inputs = keras.Input((12, 12, 3), batch_size=1)
    x = layers.Conv2D(6, 3, dilation_rate=2, padding="valid", activation="relu")(inputs)
    outputs = layers.Conv2D(4, 3, dilation_rate=(2, 3), padding="same")(x)
    return inputs, outputs


def conv_same_stride2():
    # SAME padding with stride 2: where the total padding of an axis is odd
    # (the width of the first conv, both axes of the second), the extra
    # column or row goes at the right or bottom.
    inputs = keras.Input((9, 10, 2), batch_size=1)
    x = layers.Conv2D(5, 3, strides=2, padding="same", activation="relu6")(inputs)
    outputs = layers.Conv2D(4, (2, 4), strides=2, padding="same")(x)
    return inputs, outputs


def depthwise_multiplier2():
    inputs = keras.Input((8, 8, 3), batch_size=1)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(inputs)
    outputs = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid")(x)
    return inputs, outputs


def pooling():
    inputs = keras.Input((9, 9, 4), batch_size=1)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(inputs)
    x = layers.Conv2D(8, 1, activation="relu")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    outputs = layers.MaxPooling2D(2, padding="valid")(x)
    return inputs, outputs


def elementwise():
    # A squeeze-and-excitation style block: a per-channel gate computed from
    # the spatial mean scales the feature map, so MUL and ADD broadcast a
    # [1, 1, 1, C] operand over [1, H, W, C].
    inputs = keras.Input((6, 6, 4), batch_size=1)
    features = layers.Conv2D(8, 3, padding="same")(inputs)
    channel_mean = layers.GlobalAveragePooling2D(keepdims=True)(features)
    gate = layers.Activation("sigmoid")(channel_mean)
    gated = layers.Multiply()([features, gate])
    shifted = layers.Add()([gated, channel_mean])
    shortcut = layers.Conv2D(8, 1)(inputs)
    summed = layers.Add()([gated, shortcut])
    product = layers.Multiply()([features, shortcut])
    outputs = layers.Concatenate()([shifted, summed, product])
    return inputs, outputs


def reduce_mean():
    inputs = keras.Input((5, 7, 6), batch_size=1)
    x = layers.Conv2D(6, 1)(inputs)
    spatial = layers.Lambda(lambda t: keras.ops.mean(t, axis=(1, 2)))(x)
    channels = layers.Lambda(lambda t: keras.ops.mean(t, axis=3, keepdims=True))(x)
    flat = layers.Flatten()(channels)
    outputs = layers.Concatenate()([spatial, flat])
    return inputs, outputs


def pad_transpose():
    # The RELU before the PAD gives its tensor zero point -128, so padding
    # with the zero point differs from padding with 0.
    inputs = keras.Input((5, 6, 3), batch_size=1)
    x = layers.Conv2D(4, 1, activation="relu")(inputs)
    x = layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = layers.Conv2D(4, 3, padding="valid")(x)
    outputs = layers.Permute((3, 1, 2))(x)
    return inputs, outputs


def quantize_dequantize():
    inputs = keras.Input((6, 6, 2), batch_size=1)
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.Flatten()(x)
    outputs = layers.Dense(5)(x)
    return inputs, outputs


def fully_connected():
    inputs = keras.Input((32,), batch_size=1)
    x = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(8)(x)
    return inputs, outputs


def int16x8_conv():
    inputs = keras.Input((8, 8, 2), batch_size=1)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = layers.Conv2D(3, 3, strides=2, padding="valid")(x)
    return inputs, outputs


def int16x8_depthwise():
    inputs = keras.Input((8, 8, 3), batch_size=1)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(inputs)
    outputs = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid")(x)
    return inputs, outputs


def int16x8_fully_connected():
    inputs = keras.Input((24,), batch_size=1)
    x = layers.Dense(12, activation="relu")(inputs)
    outputs = layers.Dense(6)(x)
    return inputs, outputs


def int16x8_add():
    inputs = keras.Input((4, 4, 3), batch_size=1)
    branch = layers.Conv2D(3, 1)(inputs)
    outputs = layers.Add()([inputs, branch])
    return inputs, outputs


# (file name, seed, graph builder, activation type, input/output type)
TEST_MODELS = [
    ("conv_dilated", 11, conv_dilated, "int8", "int8"),
    ("conv_same_stride2", 12, conv_same_stride2, "int8", "int8"),
    ("depthwise_multiplier2", 13, depthwise_multiplier2, "int8", "int8"),
    ("pooling", 14, pooling, "int8", "int8"),
    ("elementwise", 15, elementwise, "int8", "int8"),
    ("reduce_mean", 16, reduce_mean, "int8", "int8"),
    ("pad_transpose", 17, pad_transpose, "int8", "int8"),
    ("quantize_dequantize", 18, quantize_dequantize, "int8", "float32"),
    ("fully_connected", 19, fully_connected, "int8", "int8"),
    ("int16x8_conv", 21, int16x8_conv, "int16", "int16"),
    ("int16x8_depthwise", 22, int16x8_depthwise, "int16", "int16"),
    ("int16x8_fully_connected", 23, int16x8_fully_connected, "int16", "int16"),
    ("int16x8_add", 24, int16x8_add, "int16", "int16"),
]

TINY_SEED = 1


def write_model(path, flatbuffer):
    if len(flatbuffer) > SIZE_LIMIT_BYTES:
        sys.exit(f"{path}: {len(flatbuffer)} bytes, larger than the {SIZE_LIMIT_BYTES}-byte limit")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(flatbuffer)
    print(f"wrote {path.relative_to(ROOT)} ({len(flatbuffer)} bytes)")


def quantized_example_input(flatbuffer, seed):
    """Draw one float sample like the calibration data and quantize it with
    the model's input scale and zero point."""
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    graph = model.Subgraphs(0)
    tensor = graph.Tensors(graph.Inputs(0))
    scale = tensor.Quantization().Scale(0)
    zero_point = tensor.Quantization().ZeroPoint(0)
    rng = np.random.default_rng(seed)
    sample = rng.uniform(-1.0, 1.0, tensor.ShapeAsNumpy())
    quantized = np.round(sample / scale) + zero_point
    return np.clip(quantized, -128, 127).astype(np.int8)


def make_tiny_example():
    model = build("tiny_cnn", TINY_SEED, tiny_cnn)
    flatbuffer = convert(model, TINY_SEED)
    write_model(EXAMPLE_DIR / "model.tflite", flatbuffer)

    input_path = EXAMPLE_DIR / "input.npy"
    np.save(input_path, quantized_example_input(flatbuffer, TINY_SEED + 1000))
    print(f"wrote {input_path.relative_to(ROOT)}")


def make_test_models():
    for name, seed, make_graph, activations, io_type in TEST_MODELS:
        model = build(name, seed, make_graph)
        flatbuffer = convert(model, seed, activations, io_type)
        write_model(MODELS_DIR / f"{name}.tflite", flatbuffer)


def main():
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}")
    make_tiny_example()
    make_test_models()


if __name__ == "__main__":
    main()
