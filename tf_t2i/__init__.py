"""tf_t2i: text-to-image GANs (Reed et al. 2016) on Keras 3 and TensorFlow 2.

Light on purpose: importing `tf_t2i` does not import TensorFlow, so the CLI's
`--help` is instant. Import the subpackages you need.
"""

__version__ = "0.1.0"
