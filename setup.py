"""Build script.

Metadata lives in setup.cfg. This file exists so that the custom op's shared
library can be compiled at install time (see tf_pe/ops once it lands).
"""

from setuptools import setup

setup()
