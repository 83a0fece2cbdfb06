"""Session fixtures shared by all tests: the real Fashion-MNIST, prepared once."""

import os
import time

import pytest

from tf_pe.data import fashion_mnist_local

_PREPARE_SECONDS = {}


def debian_files_present():
    return all(
        os.path.isfile(os.path.join(fashion_mnist_local.DEFAULT_FILES_DIR, name))
        for name in fashion_mnist_local.FILENAMES.values()
    )


@pytest.fixture(scope="session")
def fashion_data_dir(tmp_path_factory):
    """A tfds data_dir where fashion_mnist/3.0.1 was prepared from the Debian files."""
    if not debian_files_present():
        pytest.fail(
            "Debian's Fashion-MNIST files are missing: "
            "`sudo apt-get install dataset-fashion-mnist` (or `make data`)."
        )
    data_dir = tmp_path_factory.mktemp("tfds")
    start = time.perf_counter()
    fashion_mnist_local.prepare_fashion_mnist(
        data_dir=data_dir, files_dir=fashion_mnist_local.DEFAULT_FILES_DIR
    )
    _PREPARE_SECONDS["fashion_mnist"] = time.perf_counter() - start
    return str(data_dir)



def pytest_terminal_summary(terminalreporter):
    for name, seconds in _PREPARE_SECONDS.items():
        terminalreporter.write_line(f"tf_pe.data: preparing {name} took {seconds:.1f} s")
