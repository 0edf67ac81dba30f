"""The `t2i` command line (a Click group); TensorFlow is imported inside commands."""
