"""A tiny RViz-like marker scene and a software renderer for it (NumPy + OpenCV, no ROS).

Markers are kept by (namespace, id) exactly as RViz keeps them: ADD (or MODIFY) replaces the marker with the
same key and restarts its lifetime, DELETE removes one key, DELETEALL removes a namespace (empty: everything),
and a marker with a non-zero lifetime vanishes that many seconds after it was last added.

`render(scene, view)` draws what a camera would see: points in the camera optical frame (x right, y down,
z forward) are projected with a pinhole `View`; line lists/strips, points/spheres and camera-facing text are
drawn over a ground grid with depth labels, so depth stays legible. `View.camera` is the image's own camera
(markers land on the image), `View.side` looks at the same scene from the right, so 3D structure shows.
"""
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

BACKGROUND = (48, 48, 48)          # BGR, RViz's default background
GRID = (110, 110, 110)
TITLE_BAR_PX = 26                  # rows above a titled view
MIN_TEXT_PX = 12                   # legibility floor: RViz text shrinks with distance, a PNG must stay readable
KINDS = ('line_list', 'line_strip', 'points', 'text')


@dataclass(frozen=True)
class SceneMarker:
    """One marker: points (N, 3) in metres in `frame_id` (pose already applied), colour RGBA in 0..1.

    scale: line width, point diameter or text height (metres). lifetime_s: 0 = until deleted.
    """

    ns: str
    id: int
    kind: str
    points: np.ndarray
    color: tuple[float, float, float, float]
    scale: float
    text: str = ''
    frame_id: str = ''
    lifetime_s: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f'marker kind {self.kind!r} is not one of {KINDS}')

    @property
    def key(self) -> tuple[str, int]:
        return self.ns, self.id


@dataclass
class MarkerScene:
    """Markers by (ns, id), with RViz's ADD / DELETE / DELETEALL and lifetime semantics."""

    fixed_frame: str = ''                                   # '' accepts every frame (no TF here)
    markers: dict = field(default_factory=dict)             # (ns, id) -> SceneMarker
    added_s: dict = field(default_factory=dict)             # (ns, id) -> time it was last added
    other_frames: int = 0                                   # markers ignored: frame differs from fixed_frame
    unsupported: int = 0                                    # markers of a type this scene cannot draw

    def add(self, marker: SceneMarker, now_s: float) -> None:
        """ADD/MODIFY: replace the marker with the same (ns, id); its lifetime starts now."""
        if self.fixed_frame and marker.frame_id and marker.frame_id != self.fixed_frame:
            self.other_frames += 1
            return
        self.markers[marker.key] = marker
        self.added_s[marker.key] = now_s

    def delete(self, ns: str, marker_id: int) -> None:
        """DELETE one marker (unknown keys are ignored, as in RViz)."""
        self.markers.pop((ns, marker_id), None)
        self.added_s.pop((ns, marker_id), None)

    def delete_all(self, ns: str = '') -> None:
        """DELETEALL: every marker of `ns`, or every marker when ns is empty (rviz2)."""
        for key in [k for k in self.markers if not ns or k[0] == ns]:
            self.delete(*key)

    def expire(self, now_s: float) -> None:
        """Drop markers whose lifetime has passed."""
        for key, m in list(self.markers.items()):
            if m.lifetime_s > 0 and now_s - self.added_s[key] >= m.lifetime_s:
                self.delete(*key)

    def keys(self, ns_prefix: str = '') -> set:
        """The (ns, id) keys shown now, optionally only namespaces starting with ns_prefix."""
        return {k for k in self.markers if k[0].startswith(ns_prefix)}

    def points(self) -> np.ndarray:
        """All marker points (M, 3), for framing views."""
        pts = [m.points for m in self.markers.values() if len(m.points)]
        return np.concatenate(pts) if pts else np.zeros((0, 3))


def transform(points, position=(0.0, 0.0, 0.0), orientation=(0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
    """Apply a marker pose: quaternion (x, y, z, w) rotation, then translation, to points (N, 3)."""
    q = np.asarray(orientation, np.float64)
    n = float(np.linalg.norm(q))
    x, y, z, w = q / n if n > 1e-9 else (0.0, 0.0, 0.0, 1.0)     # RViz reads an all-zero quaternion as identity
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    return np.asarray(points, np.float64).reshape(-1, 3) @ r.T + np.asarray(position, np.float64)


@dataclass(frozen=True)
class View:
    """A pinhole camera looking at the optical frame: view = rotation @ (p - eye), then K."""

    name: str
    K: np.ndarray
    size: tuple[int, int]                                  # (width, height) pixels
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    eye: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @staticmethod
    def camera(size, K=None, hfov_deg: float = 60.0, name: str = 'camera') -> 'View':
        """The image's own camera: intrinsics K (3x3), or a centred pinhole with a horizontal field of view."""
        if K is None:
            f = 0.5 * size[0] / math.tan(math.radians(hfov_deg) / 2)
            K = np.array([[f, 0, (size[0] - 1) / 2], [0, f, (size[1] - 1) / 2], [0, 0, 1.0]])
        return View(name, np.asarray(K, np.float64).reshape(3, 3), (int(size[0]), int(size[1])))

    @staticmethod
    def side(points, size, elevation_deg: float = 10.0, name: str = 'side view (from the right)') -> 'View':
        """From the camera's right and slightly above, nearly orthographic (lengths at different depths compare).

        Frames the camera (origin), the points and the floor under them (the plane through the lowest point).
        """
        pts = np.vstack([np.zeros((1, 3)), np.asarray(points, np.float64).reshape(-1, 3)])
        pts = pts[np.isfinite(pts).all(1)]
        floor = pts.copy()
        floor[:, 1] = pts[:, 1].max()
        fit = np.vstack([pts, floor])
        e = math.radians(elevation_deg)
        forward = np.array([-math.cos(e), math.sin(e), 0.0])        # looking left (-x) and down (+y)
        right = np.array([0.0, 0.0, 1.0])                            # depth grows to the right
        rotation = np.stack([right, np.cross(forward, right), forward])
        centre = (fit.min(0) + fit.max(0)) / 2
        eye = centre - forward * 4 * max(float(np.linalg.norm(fit.max(0) - fit.min(0))), 1.0)
        v = (fit - eye) @ rotation.T
        xy = v[:, :2] / v[:, 2:]
        lo, hi = xy.min(0), xy.max(0)
        f = min(0.9 * size[0] / max(hi[0] - lo[0], 1e-6), 0.8 * size[1] / max(hi[1] - lo[1], 1e-6))
        c = np.array(size, np.float64) / 2 - f * (lo + hi) / 2
        K = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])
        return View(name, K, (int(size[0]), int(size[1])), rotation, eye)

    def to_view(self, points) -> np.ndarray:
        return (np.asarray(points, np.float64).reshape(-1, 3) - self.eye) @ self.rotation.T

    def project(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N, 2) and depth along the view axis (N,) of optical-frame points."""
        v = self.to_view(points)
        z = v[:, 2]
        with np.errstate(divide='ignore', invalid='ignore'):
            uv = (v[:, :2] / z[:, None]) * np.diag(self.K)[:2] + self.K[:2, 2]
        return uv, z


NEAR_M = 0.05


def _segment(view: View, a, b):
    """Pixel end points of segment a-b clipped to the near plane, or None when it is behind the view."""
    va, vb = view.to_view([a, b])
    if va[2] < NEAR_M and vb[2] < NEAR_M:
        return None
    if va[2] < NEAR_M or vb[2] < NEAR_M:
        t = (NEAR_M - va[2]) / (vb[2] - va[2])
        clipped = va + t * (vb - va)
        va, vb = (clipped, vb) if va[2] < NEAR_M else (va, clipped)
    uv = np.stack([va[:2] / va[2], vb[:2] / vb[2]]) * np.diag(view.K)[:2] + view.K[:2, 2]
    if not np.isfinite(uv).all() or np.abs(uv).max() > 1e5:
        return None
    return tuple(np.round(uv[0]).astype(int)), tuple(np.round(uv[1]).astype(int))


def _bgr(color) -> tuple[int, int, int]:
    r, g, b = (int(round(255 * min(max(c, 0.0), 1.0))) for c in color[:3])
    return b, g, r


def _pixels(view: View, metres: float, depth: float) -> float:
    return float(view.K[0, 0] * metres / max(depth, NEAR_M))


def draw_grid(img, view: View, ground_y: float, x_range, z_range, cell_m: float = 1.0) -> None:
    """A ground grid (the plane y = ground_y of the optical frame) with depth labels every 2 cells."""
    xs = np.arange(math.floor(x_range[0]), math.ceil(x_range[1]) + cell_m / 2, cell_m)
    zs = np.arange(0.0, math.ceil(z_range[1]) + cell_m / 2, cell_m)
    for x in xs:
        seg = _segment(view, (x, ground_y, zs[0]), (x, ground_y, zs[-1]))
        if seg:
            cv2.line(img, *seg, GRID, 1, cv2.LINE_AA)
    for z in zs:
        seg = _segment(view, (xs[0], ground_y, z), (xs[-1], ground_y, z))
        if seg:
            cv2.line(img, *seg, GRID, 1, cv2.LINE_AA)
            if z > 0 and int(z) % 2 == 0:
                (u, v), _ = seg
                u = min(max(u, 4), img.shape[1] - 40)       # keep the label inside the image
                _text(img, f'{z:g} m', (u, v - 4), 0.45, (170, 170, 170), center=False)


def draw_axes(img, view: View, length_m: float = 0.5) -> None:
    """The optical frame's axes at its origin (x red, y green, z blue, as in RViz) when the view sees the origin."""
    uv, z = view.project(np.zeros((1, 3)))
    if z[0] <= NEAR_M:                          # the camera's own view: the origin is the eye itself
        return
    for axis, color in zip(np.eye(3) * length_m, ((0, 0, 255), (0, 255, 0), (255, 0, 0))):
        seg = _segment(view, (0, 0, 0), axis)
        if seg:
            cv2.line(img, *seg, color, 2, cv2.LINE_AA)
    (u, v), = uv
    if 0 <= u < img.shape[1] and 0 <= v < img.shape[0]:
        _text(img, 'camera', (u - 20, v - 10), 0.45, (230, 230, 230), center=False)


def _text(img, text, anchor, font_scale, color, center=True, thickness=1) -> None:
    """Text with a dark outline, centred on anchor (or starting there), shifted to stay inside the picture."""
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    u, v = (anchor[0] - w / 2, anchor[1] + h / 2) if center else anchor
    u = min(max(u, 2), img.shape[1] - w - 2)
    v = min(max(v, h + 2), img.shape[0] - 4)
    for du, dv in ((-1, -1), (-1, 1), (1, -1), (1, 1), (0, 2), (2, 0), (0, -2), (-2, 0)):   # putText's advance
        cv2.putText(img, text, (int(u) + du, int(v) + dv), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)          # grows with thickness, so outline with offsets, not width
    cv2.putText(img, text, (int(u), int(v)), cv2.FONT_HERSHEY_SIMPLEX, font_scale, color, thickness, cv2.LINE_AA)


def _draw_marker(img, view: View, m: SceneMarker) -> None:
    color = _bgr(m.color)
    if m.kind in ('line_list', 'line_strip'):
        pairs = zip(m.points[0::2], m.points[1::2]) if m.kind == 'line_list' else zip(m.points[:-1], m.points[1:])
        for a, b in pairs:
            seg = _segment(view, a, b)
            if seg:
                depth = float(view.to_view([(a + b) / 2])[0, 2])
                cv2.line(img, *seg, color, max(1, round(_pixels(view, m.scale, depth))), cv2.LINE_AA)
        return
    uv, z = view.project(m.points)
    for (u, v), depth in zip(uv, z):
        if depth < NEAR_M or not np.isfinite([u, v]).all():
            continue
        if m.kind == 'points':
            cv2.circle(img, (int(round(u)), int(round(v))), max(2, round(_pixels(view, m.scale, depth) / 2)),
                       color, -1, cv2.LINE_AA)
        else:                                   # camera-facing text, centred on its position as in RViz
            height_px = max(MIN_TEXT_PX, _pixels(view, m.scale, depth))
            _text(img, m.text, (u, v), height_px / 22.0, color)   # FONT_HERSHEY_SIMPLEX: ~22 px cap height at 1.0


def render(scene: MarkerScene, view: View, background: np.ndarray | None = None, grid: bool = True,
           ground_y: float | None = None, title: str | None = None) -> np.ndarray:
    """Draw the scene as seen by `view`: BGR (height, width, 3) uint8 (a title adds TITLE_BAR_PX rows on top).

    background: an image of the view's size to draw over (e.g. the camera image). ground_y: height of the grid
    plane in the optical frame (y down); default the lowest marker point (the feet), else 1.5 m below the camera.
    """
    w, h = view.size
    img = np.full((h, w, 3), BACKGROUND, np.uint8) if background is None else \
        cv2.resize(background, (w, h)) if background.shape[:2] != (h, w) else background.copy()
    pts = scene.points()
    pts = pts[np.isfinite(pts).all(1)]
    if grid:
        if ground_y is None:
            ground_y = float(pts[:, 1].max()) if len(pts) else 1.5
        xr = (min(-2.0, pts[:, 0].min() - 1) if len(pts) else -3.0, max(2.0, pts[:, 0].max() + 1) if len(pts) else 3.0)
        zr = (0.0, max(4.0, pts[:, 2].max() + 1) if len(pts) else 6.0)
        draw_grid(img, view, ground_y, xr, zr)
        draw_axes(img, view)
    order = sorted(scene.markers.values(), key=lambda m: (m.kind == 'text', m.key))   # text on top
    for m in order:
        overlay = img if m.color[3] >= 1.0 else img.copy()
        _draw_marker(overlay, view, m)
        if overlay is not img:
            cv2.addWeighted(overlay, m.color[3], img, 1 - m.color[3], 0, dst=img)
    if title:                                   # a bar above the picture, so pixels keep the view's coordinates
        bar = np.full((TITLE_BAR_PX, w, 3), 24, np.uint8)
        _text(bar, title, (8, 18), 0.55, (230, 230, 230), center=False)
        img = np.vstack([bar, img])
    return img


def render_views(scene: MarkerScene, views, backgrounds=(), **kwargs) -> np.ndarray:
    """Several views side by side (same height), each titled with its name; backgrounds[i] under views[i]."""
    backgrounds = list(backgrounds) + [None] * (len(views) - len(backgrounds))
    return np.hstack([render(scene, v, background=b, title=v.name, **kwargs) for v, b in zip(views, backgrounds)])
