"""3D body measures for the cues from an H36M-17 skeleton in the camera frame (metres)."""
import math

import numpy as np

from nvb_perception.cues.landmarks import VISIBLE
from nvb_perception.skeleton import H36M


class Body3D:
    """Measures from a types.Skeleton3D in the camera frame (x right, y down, z forward), metres; H36M-17."""

    def __init__(self, skeleton3d):
        if skeleton3d.joint_set != 'h36m17':
            raise ValueError(f'3D cues need an h36m17 skeleton, got {skeleton3d.joint_set!r}')
        self.p = skeleton3d.positions.astype(np.float64)
        self.c = skeleton3d.confidence

    def _conf(self, *joints) -> float:
        return float(min(self.c[j] for j in joints))

    def head_centre(self) -> np.ndarray:
        return (self.p[H36M.HEAD] + self.p[H36M.NECK]) / 2

    def wrist(self, side: str) -> np.ndarray:
        return self.p[H36M[f'{side.upper()}_WRIST']]

    def wrist_head_m(self, side: str) -> tuple[float, float]:
        """(wrist to head-centre distance m, reliability); NaN if a joint is not observed."""
        conf = self._conf(H36M[f'{side.upper()}_WRIST'], H36M.HEAD, H36M.NECK)
        d = float(np.linalg.norm(self.wrist(side) - self.head_centre()))
        return (d if conf >= VISIBLE else math.nan), conf

    def wrists_m(self) -> tuple[float, float]:
        """(wrist to wrist distance m, reliability); NaN if a wrist is not observed."""
        conf = self._conf(H36M.LEFT_WRIST, H36M.RIGHT_WRIST)
        d = float(np.linalg.norm(self.wrist('left') - self.wrist('right')))
        return (d if conf >= VISIBLE else math.nan), conf

    def wrist_body_depth_m(self, side: str, target: str) -> float:
        """|depth difference| between the wrist and the nearest point of the trunk or of the other arm."""
        w = self.wrist(side)
        if target == 'torso':
            a, b = self.p[H36M.PELVIS], self.p[H36M.THORAX]
        else:
            o = target.split('_')[0].upper()
            a, b = self.p[H36M[f'{o}_SHOULDER']], self.p[H36M[f'{o}_WRIST']]
        ab = b - a
        t = float(np.clip((w - a) @ ab / max(float(ab @ ab), 1e-12), 0, 1))
        return abs(float(w[2] - (a + t * ab)[2]))

    def _frame(self) -> tuple[np.ndarray, np.ndarray]:
        """(down unit along the trunk, lateral unit towards the left shoulder, orthogonal to down)."""
        down = self.p[H36M.PELVIS] - self.p[H36M.THORAX]
        down /= max(float(np.linalg.norm(down)), 1e-9)
        lateral = self.p[H36M.LEFT_SHOULDER] - self.p[H36M.RIGHT_SHOULDER]
        lateral -= (lateral @ down) * down
        return down, lateral / max(float(np.linalg.norm(lateral)), 1e-9)

    def arm_angle_deg(self, side: str) -> tuple[float, float]:
        """Signed arm opening in the trunk's frontal plane (outward positive); 0 when the arm points front/back."""
        down, lateral = self._frame()
        s = side.upper()
        arm = self.p[H36M[f'{s}_WRIST']] - self.p[H36M[f'{s}_SHOULDER']]
        outward = lateral if side == 'left' else -lateral
        a, d = float(arm @ outward), float(arm @ down)
        if math.hypot(a, d) < 0.3 * float(np.linalg.norm(arm)):
            return 0.0, self._conf(H36M[f'{s}_WRIST'], H36M[f'{s}_SHOULDER'])
        return math.degrees(math.atan2(a, d)), self._conf(H36M[f'{s}_WRIST'], H36M[f'{s}_SHOULDER'])

    def lean_deg(self) -> tuple[float, float]:
        """Trunk pitch towards the person's front, degrees from the camera's vertical (camera roughly level)."""
        trunk = self.p[H36M.THORAX] - self.p[H36M.PELVIS]
        up = np.array([0.0, -1.0, 0.0])
        lateral = self.p[H36M.LEFT_HIP] - self.p[H36M.RIGHT_HIP]
        forward = np.cross(lateral, up)
        norm = float(np.linalg.norm(forward))
        if norm < 1e-6:
            return math.nan, 0.0
        forward /= norm
        return (math.degrees(math.atan2(float(trunk @ forward), float(trunk @ up))),
                self._conf(H36M.PELVIS, H36M.THORAX, H36M.LEFT_HIP, H36M.RIGHT_HIP))
