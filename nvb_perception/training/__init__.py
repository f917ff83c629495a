"""Training (PyTorch): the lifter and action models, their training loops, checkpoints and packing. Never run on a robot."""
