"""Actions from attention-map flow: frozen ViT backbone (ONNX) -> attention-map flow -> adapters + class-temporal head.

Pure stages (numpy/OpenCV + a model backend); torch lives only in nvb_perception.training. See docs/actions.md.
"""
