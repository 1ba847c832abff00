"""Torch models (nn.Module) of genomelearn; all train with :func:`genomelearn.training.fit`."""
