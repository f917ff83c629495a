"""Training code (PyTorch): models, training loops and exports. The runtime stages never import this."""
