"""Training (PyTorch): the lifter and action models, their loops, checkpoints and packing. Never run on a robot."""
