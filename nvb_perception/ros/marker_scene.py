"""Apply visualization_msgs/Marker(Array) messages to a MarkerScene, as RViz's MarkerArray display does.

Works on rclpy messages and on the same messages read from a bag with `rosbags` (the fields are the same), so
it imports no ROS package. Marker types the scene cannot draw (arrows, meshes, triangles, ...) are skipped and
counted in `scene.unsupported`.
"""
from nvb_perception.scene import MarkerScene, SceneMarker, transform

# visualization_msgs/Marker constants (MODIFY == ADD)
ADD, DELETE, DELETEALL = 0, 2, 3
CUBE, SPHERE, LINE_STRIP, LINE_LIST, CUBE_LIST, SPHERE_LIST, POINTS, TEXT_VIEW_FACING = 1, 2, 4, 5, 6, 7, 8, 9
KIND = {LINE_STRIP: 'line_strip', LINE_LIST: 'line_list', POINTS: 'points', SPHERE_LIST: 'points',
        CUBE_LIST: 'points', SPHERE: 'points', CUBE: 'points', TEXT_VIEW_FACING: 'text'}
SINGLE = {CUBE, SPHERE, TEXT_VIEW_FACING}     # one item at the pose itself, not a list of points


def seconds(duration) -> float:
    """builtin_interfaces/Duration or Time as seconds."""
    return float(duration.sec) + float(duration.nanosec) * 1e-9


def scene_marker(m) -> SceneMarker | None:
    """The drawable content of an ADD/MODIFY marker (pose applied), or None for unsupported types."""
    kind = KIND.get(int(m.type))
    if kind is None:
        return None
    p, q = m.pose.position, m.pose.orientation
    local = [(0.0, 0.0, 0.0)] if int(m.type) in SINGLE else [(pt.x, pt.y, pt.z) for pt in m.points]
    points = transform(local, (p.x, p.y, p.z), (q.x, q.y, q.z, q.w))
    scale = m.scale.z if kind == 'text' else m.scale.x
    color = (m.color.r, m.color.g, m.color.b, m.color.a)
    return SceneMarker(m.ns, int(m.id), kind, points, color, float(scale), text=m.text,
                       frame_id=m.header.frame_id, lifetime_s=seconds(m.lifetime))


def apply_marker(scene: MarkerScene, m, now_s: float) -> None:
    """One marker message: ADD/MODIFY, DELETE or DELETEALL."""
    action = int(m.action)
    if action == DELETEALL:
        scene.delete_all(m.ns)
    elif action == DELETE:
        scene.delete(m.ns, int(m.id))
    elif action == ADD:
        marker = scene_marker(m)
        if marker is None:
            scene.unsupported += 1
        else:
            scene.add(marker, now_s)


def apply_marker_array(scene: MarkerScene, msg, now_s: float) -> None:
    """Every marker of a MarkerArray in order, then expire what outlived its lifetime at now_s."""
    for m in msg.markers:
        apply_marker(scene, m, now_s)
    scene.expire(now_s)


def scene_at_stamp(records, until_stamp_ns: int, fixed_frame: str) -> MarkerScene:
    """The scene after every MarkerArray of frames stamped <= until_stamp_ns, from (arrival ns, msg) records.

    Messages are applied in arrival order; lifetimes run on the frames' stamps, not on arrival, so a frame's
    markers arriving far apart on a loaded machine do not expire each other.
    """
    scene = MarkerScene(fixed_frame)
    for _, msg in sorted(records, key=lambda r: r[0]):
        stamp_ns = int(msg.markers[0].header.stamp.sec) * 10**9 + int(msg.markers[0].header.stamp.nanosec) \
            if msg.markers else None
        if stamp_ns is not None and stamp_ns <= until_stamp_ns:
            apply_marker_array(scene, msg, stamp_ns * 1e-9)
    return scene
