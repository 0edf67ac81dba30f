"""Networks and the ConditionalGAN keras.Model (import from the submodules)."""
