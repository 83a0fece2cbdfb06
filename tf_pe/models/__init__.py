"""Model zoo: the networks of the tf_pe papers, with pluggable conv/dense layers.

Every builder returns an uncompiled functional `keras.Model` whose output is logits
(no softmax), takes ``depth_multiplier`` (the parameter fraction of Changpinyo et al.
2017, see `scale_width`) and creates every `Conv2D` and `Dense` layer through the
``conv_layer`` and ``dense_layer`` factories, always with a stable ``name=``, so
sparse layers plug in without copying architectures::

    model = tf_pe.models.lenet5(
        conv_layer=functools.partial(SparseChannelConv2D, density=0.1))
"""

from tf_pe.models.changpinyo import changpinyo_cifar, changpinyo_mnist
from tf_pe.models.lenet import lenet5, lenet_300_100, mlp
from tf_pe.models.registry import available, get, get_builder
from tf_pe.models.resnet import resnet50
from tf_pe.models.scaling import scale_width
from tf_pe.models.sparsify import Converter, register_converter, sparsify, sparsify_methods
from tf_pe.models.vgg import vgg16n
from tf_pe.models.wrn import wrn

__all__ = [
    "Converter",
    "available",
    "changpinyo_cifar",
    "changpinyo_mnist",
    "get",
    "get_builder",
    "lenet5",
    "lenet_300_100",
    "mlp",
    "register_converter",
    "resnet50",
    "scale_width",
    "sparsify",
    "sparsify_methods",
    "vgg16n",
    "wrn",
]
