"""Data for training and evaluation; never imported at run time.

Mocap (BVH) reading, simulated 2D/3D windows and 2D corruption for the lifter, synthetic cue sequences, action
labels from tracks and cached backbone features.
"""
