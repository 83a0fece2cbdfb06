"""Build script.

Metadata lives in setup.cfg. This file adds the custom op's shared library:
`python setup.py build_op` compiles `tf_pe/ops/cc/*.cc` in place with g++ and the
flags from `tf.sysconfig` (see `tf_pe/ops/build.py`); `build_py` (a regular,
non-editable install) runs it too when TensorFlow is importable, i.e. with
`pip install --no-build-isolation .`. `make setup` builds it after the editable
install. Without the library tf_pe still works, on the pure-TF fallback.
"""

import importlib.util
import os
import sys

from setuptools import Command, setup
from setuptools.command.build_py import build_py


def _build_op():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf_pe", "ops"))
    try:
        import build as op_build  # tf_pe/ops/build.py, without importing tf_pe
    finally:
        sys.path.pop(0)
    return op_build.build()


class BuildOp(Command):
    """`python setup.py build_op`: compile the op library in place."""

    description = "compile the tf_pe custom op library with g++ and tf.sysconfig flags"
    user_options: list = []  # noqa: RUF012 (setuptools' Command API)

    def initialize_options(self):
        pass

    def finalize_options(self):
        pass

    def run(self):
        _build_op()


class BuildPyWithOp(build_py):
    def run(self):
        if importlib.util.find_spec("tensorflow") is not None:
            _build_op()
        else:
            print("tf_pe: TensorFlow is not importable in the build environment; the op "
                  "library is not built (use --no-build-isolation, or `make setup`).")
        super().run()


setup(cmdclass={"build_op": BuildOp, "build_py": BuildPyWithOp},
      package_data={"tf_pe.ops": ["_sparse_channel_conv2d_ops.so", "cc/*.h", "cc/*.cc"]})
