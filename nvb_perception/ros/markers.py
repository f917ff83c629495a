"""RViz markers: 3D skeleton lines and text labels per track, with stable namespaces and ids."""
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from nvb_perception.draw import track_color

LIFETIME_S = 1   # markers vanish by themselves if the publisher stops


def _rgba(track_id: int, alpha: float = 1.0) -> ColorRGBA:
    b, g, r = track_color(track_id)
    return ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=alpha)


def text_marker(header: Header, ns: str, track_id: int, position, text: str, height_m: float = 0.08) -> Marker:
    """A camera-facing text at `position` (metres in header.frame_id)."""
    m = Marker(header=header, ns=ns, id=int(track_id), type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, text=text)
    m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in position)
    m.pose.orientation.w = 1.0
    m.scale.z = height_m
    m.color = _rgba(track_id)
    m.lifetime.sec = LIFETIME_S
    return m


def skeleton_marker(header: Header, ns: str, track_id: int, positions, connections, confidence,
                    min_confidence: float = 0.3, width_m: float = 0.02) -> Marker:
    """Bones as a LINE_LIST (positions (J, 3) metres)."""
    m = Marker(header=header, ns=ns, id=int(track_id), type=Marker.LINE_LIST, action=Marker.ADD)
    m.pose.orientation.w = 1.0
    m.scale.x = width_m
    m.color = _rgba(track_id)
    m.lifetime.sec = LIFETIME_S
    for a, b in connections:
        if confidence[a] >= min_confidence and confidence[b] >= min_confidence:
            m.points += [Point(x=float(positions[a][0]), y=float(positions[a][1]), z=float(positions[a][2])),
                         Point(x=float(positions[b][0]), y=float(positions[b][1]), z=float(positions[b][2]))]
    return m


def delete_marker(header: Header, ns: str, track_id: int) -> Marker:
    """Remove a track's marker (sent when the track terminates)."""
    return Marker(header=header, ns=ns, id=int(track_id), action=Marker.DELETE)
