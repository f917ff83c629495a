"""Turning pretrained and trained weights into the files the runtime loads (run at setup or after training).

TFLite -> ONNX converter (MediaPipe pose, face and hand models), the ViT backbone extraction, the lifter and
action-head ONNX export with parity checks, and TensorRT engine building. Nothing here runs on a robot.
"""
