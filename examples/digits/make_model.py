"""Train the int8 digits CNN of examples/digits and write its test set.

usage: python examples/digits/make_model.py

Run it with a Python environment that has TensorFlow and scikit-learn
(CPU is enough, training takes about a minute):

    python3 -m venv .venv-tf
    .venv-tf/bin/pip install tensorflow==2.21.0 scikit-learn==1.9.1
    .venv-tf/bin/python examples/digits/make_model.py

It reads the handwritten digits data set that ships inside scikit-learn
(1797 images of 8x8 pixels, values 0..16) and holds out a stratified test
set of TEST_SIZE images. It trains a small CNN on the rest with fixed seeds
and deterministic TensorFlow ops. The TFLite converter's full-integer
post-training quantization then gives int8 activations, weights, input and
output, and folds each batch norm into the convolution before it. It
writes, next to this script:

- model.tflite: the quantized model, batch size 1;
- test_images.npy: the held-out images, int8 [N, 8, 8, 1], quantized with
  the model input's scale and zero point;
- test_labels.npy: their digits, int64 [N].

Finally it runs the TFLite interpreter on the test set, with the reference
kernels and with the default (optimised) kernels, and prints both
accuracies; examples/digits/README.md records them.

The committed files were made with TensorFlow 2.21.0, Keras 3.15.1 and
scikit-learn 1.9.1 on Python 3.11, x86-64 Linux. Another version may train
other weights or emit another graph.
"""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 7
TEST_SIZE = 360
EPOCHS = 40
BATCH_SIZE = 32
CALIBRATION_SAMPLES = 300
# Pixel counts run from 0 to 16 (set pixels in a 4x4 block of the original
# 32x32 bitmap). The model takes them scaled to [0, 1].
PIXEL_MAX = 16.0


def load_split():
    """Return (train images, train labels, test images, test labels).

    Images are float32 [N, 8, 8, 1] in [0, 1]. The test set is a stratified
    sample of TEST_SIZE images drawn with SEED, so every digit appears in
    it in about the proportion of the whole data set.
    """
    digits = load_digits()
    images = (digits.images / PIXEL_MAX).astype(np.float32)[..., np.newaxis]
    labels = digits.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=TEST_SIZE, stratify=labels, random_state=SEED
    )
    return train_x, train_y, test_x, test_y


def digits_cnn(batch_size):
    """Build the CNN: conv, depthwise conv, max pool, pointwise conv,
    average pool, fully connected, softmax. The convolutions have no bias of
    their own, because the batch norm after each one supplies it, and the
    converter folds each batch norm into the convolution before it."""
    inputs = keras.Input((8, 8, 1), batch_size=batch_size)
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10)(x)
    outputs = layers.Softmax()(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def train(train_x, train_y):
    """Train with a free batch dimension, then copy the weights into the
    same graph with batch size 1, the form the converter is given."""
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model = digits_cnn(batch_size=None)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(train_x, train_y, epochs=EPOCHS, batch_size=BATCH_SIZE, shuffle=True, verbose=0)

    single = digits_cnn(batch_size=1)
    single.set_weights(model.get_weights())
    return single


def convert(model, train_x):
    def representative():
        for image in train_x[:CALIBRATION_SAMPLES]:
            yield [image[np.newaxis]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def quantize_images(flatbuffer, images):
    """Quantize float images with the model input's scale and zero point."""
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    scale, zero_point = interpreter.get_input_details()[0]["quantization"]
    quantized = np.round(images / scale) + zero_point
    return np.clip(quantized, -128, 127).astype(np.int8)


def interpreter_accuracy(flatbuffer, images, labels, resolver):
    """Top-1 accuracy of the TFLite interpreter with the given op resolver."""
    interpreter = tf.lite.Interpreter(
        model_content=flatbuffer, experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    predictions = []
    for image in images:
        interpreter.set_tensor(input_index, image[np.newaxis])
        interpreter.invoke()
        predictions.append(int(np.argmax(interpreter.get_tensor(output_index)[0])))
    predictions = np.array(predictions)
    return int(np.sum(predictions == labels)), predictions


def main():
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}")
    train_x, train_y, test_x, test_y = load_split()
    model = train(train_x, train_y)
    float_accuracy = float(np.mean(np.argmax(model.predict(test_x, batch_size=1, verbose=0), 1) == test_y))
    print(f"float model: {float_accuracy * 100:.2f}% on {len(test_y)} test images")

    flatbuffer = convert(model, train_x)
    (HERE / "model.tflite").write_bytes(flatbuffer)
    print(f"wrote model.tflite ({len(flatbuffer)} bytes)")

    test_images = quantize_images(flatbuffer, test_x)
    np.save(HERE / "test_images.npy", test_images)
    np.save(HERE / "test_labels.npy", test_y)
    print(f"wrote test_images.npy {test_images.shape} and test_labels.npy {test_y.shape}")

    resolvers = [
        ("reference kernels (BUILTIN_REF)", tf.lite.experimental.OpResolverType.BUILTIN_REF),
        ("default kernels (AUTO)", tf.lite.experimental.OpResolverType.AUTO),
    ]
    for name, resolver in resolvers:
        correct, _ = interpreter_accuracy(flatbuffer, test_images, test_y, resolver)
        print(f"int8 model, {name}: {correct}/{len(test_y)} = {correct / len(test_y) * 100:.2f}%")


if __name__ == "__main__":
    main()
