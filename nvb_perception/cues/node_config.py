"""Settings of cue_node around the cue stage: which inputs it waits for, how long, and what it draws.

Each field is also a cue_node parameter (nvb_perception.params); the stage's own settings are CueStageConfig's.
"""
from __future__ import annotations

from dataclasses import dataclass

from nvb_perception.params import param, validate


@dataclass(frozen=True)
class CueNodeConfig:
    """Inputs, synchronisation and outputs of cue_node."""

    use_image: bool = param(True, 'Run the face and hand models on the images', read_only=True)
    use_skeletons_3d: bool = param(True, 'Wait for and use Skeleton3DArray of each frame', read_only=True)
    sync_timeout_s: float = param(0.3, 'Longest wait for the image and 3D frame of a 2D frame (s)', low=0.0,
                                  high=10.0)
    sync_window_s: float = param(2.0, 'How long images and 3D frames wait for their 2D frame (s)', low=0.1,
                                 high=60.0)
    publish_overlay: bool = param(False, 'Publish an overlay image (cue_overlay) for RViz')
    publish_markers: bool = param(True, 'Publish the active cues as RViz text markers above each head (needs '
                                        'use_skeletons_3d)')
    publish_head_poses: bool = param(True, 'Publish every modelled face\'s head pose and gaze (head_poses, '
                                           'HeadPoseArray) at frame rate', read_only=True)
    looking_cone_deg: float = param(15.0, 'Half-angle of the cone around the face-to-camera direction within which a '
                                          'gaze counts as looking at the camera (deg)', low=0.0, high=180.0)
    marker_depth_m: float = param(3.0, 'Depth at which root-relative skeletons are drawn in RViz (as lifting_node)',
                                  low=0.1, high=100.0)

    def __post_init__(self):
        validate(self)
