"""`tf_pe.summary` on zoo models against counts done by hand, layer by layer."""

from tf_pe import models
from tf_pe.sparsity import summary


def test_lenet5_parameters_and_macs():
    s = summary(models.lenet5(), print_fn=None)
    # (params, MACs): conv1 5x5x1x6 + 6 biases at 28x28 ("same"); conv2 5x5x6x16 + 16 at
    # 10x10 ("valid" on 14x14); then 400 -> 120 -> 84 -> 10.
    expected = {
        "conv1": (5 * 5 * 1 * 6 + 6, 28 * 28 * 5 * 5 * 1 * 6),
        "conv2": (5 * 5 * 6 * 16 + 16, 10 * 10 * 5 * 5 * 6 * 16),
        "fc1": (400 * 120 + 120, 400 * 120),
        "fc2": (120 * 84 + 84, 120 * 84),
        "logits": (84 * 10 + 10, 84 * 10),
    }
    assert {r.name: (r.params, r.macs) for r in s.layers} == expected
    assert s.total.params == 61_706
    assert s.total.macs == 416_520
    assert s.total.active == s.total.dynamic == 61_706


def _wrn_hand_count(depth, width, image=32, channels=3, classes=10):
    """Params and MACs of a pre-activation WRN, written from the paper's table."""
    n = (depth - 4) // 6
    params = macs = 0

    def conv(k, cin, cout, size):
        nonlocal params, macs
        params += k * k * cin * cout  # no bias: every conv is followed by batch norm
        macs += size * size * k * k * cin * cout

    def bn(c):
        nonlocal params
        params += 4 * c  # gamma, beta, moving mean, moving variance

    size, cin = image, 16
    conv(3, channels, 16, size)
    for group, base in enumerate((16, 32, 64)):
        cout = base * width
        for block in range(n):
            stride = 2 if group > 0 and block == 0 else 1
            bn(cin)
            size //= stride
            if cin != cout or stride != 1:
                conv(1, cin, cout, size)
            conv(3, cin, cout, size)
            bn(cout)
            conv(3, cout, cout, size)
            cin = cout
    bn(cin)
    params += cin * classes + classes
    macs += cin * classes
    return params, macs


def test_wrn_16_2_parameters_and_macs():
    model = models.get("wrn_16_2")
    s = summary(model, print_fn=None)
    params, macs = _wrn_hand_count(16, 2)
    assert (s.total.params, s.total.macs) == (params, macs)
    assert s.total.params == model.count_params()
    # Non-trainable: the moving mean and variance of the 13 batch-norm layers
    # (bn1 and bn2 of two blocks in each of three groups, then the final one).
    bn_channels = (16 + 32 + 32 + 32) + (32 + 64 + 64 + 64) + (64 + 128 + 128 + 128) + 128
    assert s.total.static == 2 * bn_channels
    assert s.by_name("conv1").macs == 32 * 32 * 3 * 3 * 3 * 16
