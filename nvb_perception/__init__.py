"""nvb_perception: pose, 3D lifting, non-verbal cues, actions and ergonomic risk from a camera.

Importing this package (or any pure stage in it) never imports rclpy, torch or tensorrt.
"""
__version__ = '0.1.0'
