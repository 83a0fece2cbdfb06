"""tf_pe: train parameter-efficient CNNs directly in Keras 3 / TensorFlow."""
