"""Time one model on the LiteRT interpreter: reference kernels and default kernels.

usage: bench_litert.py MODEL INPUT.npy [--repeat N] [--threads T]

Prints two lines, `litert_reference_seconds S` and `litert_default_seconds S`,
each the median time of one `invoke()` over N runs after one warm-up run.
"Reference" is the BUILTIN_REF op resolver (the reference kernels);
"default" is the resolver LiteRT uses when asked for nothing (optimised
kernels with the XNNPACK delegate). Needs a Python with TensorFlow; the
benchmarks in benches/ call it through $FXSIM_LITERT_PYTHON.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.lite.python.interpreter import OpResolverType  # noqa: E402


def time_invoke(model, x, resolver, repeat, threads):
    interpreter = tf.lite.Interpreter(
        model_path=model, experimental_op_resolver_type=resolver, num_threads=threads)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]['index']
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    times = []
    for _ in range(repeat):
        interpreter.set_tensor(index, x)
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('model')
    parser.add_argument('input')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    x = np.load(args.input)
    for label, resolver in [('reference', OpResolverType.BUILTIN_REF), ('default', OpResolverType.AUTO)]:
        seconds = time_invoke(args.model, x, resolver, args.repeat, args.threads)
        print(f'litert_{label}_seconds {seconds:.6f}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
