"""`tf_local`: a repository for the installed TensorFlow (headers and
libtensorflow_framework.so.2), found by running `$PYTHON_BIN_PATH` (default
`python3`) with `tf.sysconfig`, so that nothing (paths, ABI, C++ standard) is
hard-coded. The optimisation flags are those of the pip build
(`optimisation_flags()` in tf_pe/ops/build.py, which honours TF_PE_OP_CFLAGS and
CXX). The configure step is this rule; `make bazel` sets PYTHON_BIN_PATH."""

_SCRIPT = """
import importlib.util, sys
import tensorflow as tf
spec = importlib.util.spec_from_file_location('tf_pe_op_build', sys.argv[1])
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)
print(tf.sysconfig.get_include())
print(tf.sysconfig.get_lib())
print(' '.join(f for f in tf.sysconfig.get_compile_flags() if not f.startswith('-I')))
print(' '.join(build.optimisation_flags()))
"""

def _tf_local_impl(ctx):
    python = ctx.os.environ.get("PYTHON_BIN_PATH", "python3")
    build_py = ctx.path(Label("//tf_pe/ops:build.py"))
    result = ctx.execute([python, "-c", _SCRIPT, str(build_py)], quiet = True)
    if result.return_code != 0:
        fail("tf_local: cannot import tensorflow with %s: %s" % (python, result.stderr))
    lines = result.stdout.strip().split("\n")
    include, lib, flags, opt = lines[-4], lines[-3], lines[-2], lines[-1]
    ctx.symlink(include, "include")
    ctx.symlink(lib + "/libtensorflow_framework.so.2", "libtensorflow_framework.so.2")
    copts = [f for f in flags.split(" ") if f]
    opt_copts = [f for f in opt.split(" ") if f]
    ctx.file("flags.bzl", "TF_COPTS = %s\nOPT_COPTS = %s\n" % (repr(copts), repr(opt_copts)))
    ctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "headers",
    hdrs = glob(["include/**/*.h", "include/**/*.inc", "include/unsupported/**", "include/Eigen/**", "include/absl/**/*"]),
    includes = ["include"],
)

cc_import(
    name = "framework",
    shared_library = "libtensorflow_framework.so.2",
)
""")

tf_local = repository_rule(
    implementation = _tf_local_impl,
    environ = ["PYTHON_BIN_PATH", "CXX", "TF_PE_OP_CFLAGS"],
    local = True,
)
