"""Small BVH reader, forward kinematics and mapping of mocap skeletons to the H36M-17 joint set.

    clip = load_h36m('.assets/data/bvh/test.bvh')   # MocapClip: positions (F, 17, 3) metres, world z-up
    bvh = read_bvh(path); positions, rotations = forward_kinematics(bvh)   # file units and axes

World frame of `load_h36m`: right-handed, metres, z up (as ROS `map`), floor height as in the file. The file's
up axis (y for most BVH exporters) and unit (m, cm, mm or inches) are detected from the skeleton: the up axis
from the mean head-minus-ankles direction, the unit from the ankle-to-head chain length (a person is 1-2.5 m).

Position channels: the BVH specification leaves open whether a joint's position channels replace its OFFSET
or add to it, and exporters differ (bvhtools' test.bvh repeats the root position in OFFSET; Blender writes
root translations relative to OFFSET and child positions equal to OFFSET). We decide per joint: channels whose
median lies nearer the OFFSET than zero replace it, otherwise they add to it.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nvb_perception.skeleton import H36M

UNITS_M = {'m': 1.0, 'cm': 0.01, 'mm': 0.001, 'inch': 0.0254}
ANKLE_TO_HEAD_M = 1.5   # ankle -> knee -> hip -> pelvis -> spine -> head chain of a 1.70 m adult, metres

# Source joint names of the H36M joints each BVH skeleton provides directly ('<joint>_end' = its End Site).
# 'ears' is the head joint at ear height from which head top, mouth and neck are synthesised.
JOINT_NAME_MAPS = (
    {  # bvhtools test.bvh / test2.bvh (MotionBuilder-style, 22 joints)
        'RIGHT_HIP': 'RightUpLeg', 'RIGHT_KNEE': 'RightLeg', 'RIGHT_ANKLE': 'RightFoot',
        'LEFT_HIP': 'LeftUpLeg', 'LEFT_KNEE': 'LeftLeg', 'LEFT_ANKLE': 'LeftFoot', 'ears': 'Head',
        'LEFT_SHOULDER': 'LeftArm', 'LEFT_ELBOW': 'LeftForeArm', 'LEFT_WRIST': 'LeftHand',
        'RIGHT_SHOULDER': 'RightArm', 'RIGHT_ELBOW': 'RightForeArm', 'RIGHT_WRIST': 'RightHand'},
    {  # bvhtools test3.bvh (Blender rigify-style metarig)
        'RIGHT_HIP': 'thigh.R', 'RIGHT_KNEE': 'shin.R', 'RIGHT_ANKLE': 'foot.R',
        'LEFT_HIP': 'thigh.L', 'LEFT_KNEE': 'shin.L', 'LEFT_ANKLE': 'foot.L', 'ears': 'face',
        'LEFT_SHOULDER': 'upper_arm.L', 'LEFT_ELBOW': 'forearm.L', 'LEFT_WRIST': 'forearm.L_end',
        'RIGHT_SHOULDER': 'upper_arm.R', 'RIGHT_ELBOW': 'forearm.R', 'RIGHT_WRIST': 'forearm.R_end'},
)
# Mouth relative to the ears' midpoint, in units of the ears-thorax distance (about 0.19 m in adults):
# forward along the face and down along the neck (anthropometric tragion -> stomion).
MOUTH_FORWARD, MOUTH_DOWN = 0.45, 0.35


@dataclass(frozen=True, eq=False)
class Bvh:
    """A parsed BVH file. End Sites are joints named '<parent>_end' with no channels."""

    names: tuple[str, ...]            # (J,) joint names, parents before children
    parents: np.ndarray               # (J,) int, -1 for the root
    offsets: np.ndarray               # (J, 3) float64, file units, in the parent's frame
    channels: tuple[tuple[str, ...], ...]  # per joint, e.g. ('Xposition', ..., 'Zrotation')
    motion: np.ndarray                # (F, C) float64, all channels in file order (degrees, file units)
    frame_time_s: float

    @property
    def fps(self) -> float:
        """Frames per second."""
        return 1.0 / self.frame_time_s


@dataclass(frozen=True, eq=False)
class MocapClip:
    """H36M-17 joints of one mocap take in the world frame (right-handed, z up), metres."""

    name: str
    positions: np.ndarray             # (F, 17, 3) float32, metres, order = skeleton.H36M
    fps: float


def read_bvh(path: str | Path) -> Bvh:
    """Parse a BVH file (hierarchy, offsets, channels in any order, motion).

    Raises:
        ValueError: the file is not valid BVH (the message says where).

    """
    tokens = Path(path).read_text().split()
    names, parents, offsets, channels = [], [], [], []
    stack, i = [], 0

    def expect(word):
        nonlocal i
        if tokens[i] != word:
            raise ValueError(f'{path}: expected {word!r} at token {i}, got {tokens[i]!r}')
        i += 1

    expect('HIERARCHY')
    while tokens[i] != 'MOTION':
        word = tokens[i]
        if word in ('ROOT', 'JOINT', 'End'):
            name = tokens[i + 1] if word != 'End' else names[stack[-1]] + '_end'
            parents.append(stack[-1] if stack else -1)
            names.append(name)
            i += 2
            expect('{')
            expect('OFFSET')
            offsets.append([float(t) for t in tokens[i:i + 3]])
            i += 3
            chans = ()
            if tokens[i] == 'CHANNELS':
                n = int(tokens[i + 1])
                chans = tuple(tokens[i + 2:i + 2 + n])
                i += 2 + n
            channels.append(chans)
            stack.append(len(names) - 1)
        elif word == '}':
            stack.pop()
            i += 1
        else:
            raise ValueError(f'{path}: unexpected token {word!r} at {i}')
    expect('MOTION')
    expect('Frames:')
    n_frames = int(tokens[i])
    i += 1
    expect('Frame')
    expect('Time:')
    frame_time = float(tokens[i])
    n_channels = sum(len(c) for c in channels)
    values = np.asarray(tokens[i + 1:], dtype=np.float64)
    if values.size != n_frames * n_channels:
        raise ValueError(f'{path}: {values.size} motion values, expected {n_frames} frames x {n_channels} channels')
    return Bvh(tuple(names), np.array(parents), np.array(offsets, np.float64), tuple(channels),
               values.reshape(n_frames, n_channels), frame_time)


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(F,) angles -> (F, 3, 3) rotation matrices about 'X', 'Y' or 'Z'."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(a.shape + (3, 3))
    i, j = {'X': (1, 2), 'Y': (2, 0), 'Z': (0, 1)}[axis]
    k = 3 - i - j
    r[..., k, k] = 1.0
    r[..., i, i], r[..., i, j], r[..., j, i], r[..., j, j] = c, -s, s, c
    return r


def forward_kinematics(bvh: Bvh) -> tuple[np.ndarray, np.ndarray]:
    """World positions and orientations of every joint, in the file's units and axes.

    Rotation channels compose in the listed order (R = R_c1 @ R_c2 @ R_c3, column vectors), the BVH convention.

    Returns:
        positions (F, J, 3) float64 in file units and rotations (F, J, 3, 3) joint-to-world.

    """
    n_frames, n_joints = len(bvh.motion), len(bvh.names)
    positions = np.zeros((n_frames, n_joints, 3))
    rotations = np.zeros((n_frames, n_joints, 3, 3))
    column = 0
    for j, chans in enumerate(bvh.channels):
        values = bvh.motion[:, column:column + len(chans)]
        column += len(chans)
        local_r = np.broadcast_to(np.eye(3), (n_frames, 3, 3)).copy()
        translation = np.broadcast_to(bvh.offsets[j], (n_frames, 3)).copy()
        pos_idx = [chans.index(a + 'position') for a in 'XYZ' if a + 'position' in chans]
        if pos_idx:
            pos = values[:, pos_idx]
            median = np.median(pos, axis=0)
            replaces = np.linalg.norm(median - bvh.offsets[j]) < np.linalg.norm(median)   # see module docstring
            translation = pos if replaces else translation + pos
        for k, name in enumerate(chans):
            if name.endswith('rotation'):
                local_r = local_r @ _axis_rotation(name[0].upper(), values[:, k])
        parent = bvh.parents[j]
        if parent < 0:
            positions[:, j], rotations[:, j] = translation, local_r
        else:
            positions[:, j] = positions[:, parent] + np.einsum('fab,fb->fa', rotations[:, parent], translation)
            rotations[:, j] = rotations[:, parent] @ local_r
    return positions, rotations


def find_joint_map(names) -> dict[str, int]:
    """Index of each source joint of the first JOINT_NAME_MAPS entry whose names all exist in `names`."""
    for mapping in JOINT_NAME_MAPS:
        if all(n in names for n in mapping.values()):
            return {key: names.index(n) for key, n in mapping.items()}
    raise ValueError(f'no known H36M joint-name map fits these BVH joints: {list(names)}')


def detect_unit(bvh: Bvh, joint_map: dict[str, int]) -> str:
    """Name of the unit ('m', 'cm', 'mm', 'inch') that makes the ankle-to-head bone chain adult-sized."""
    def chain(j):
        out = []
        while j >= 0:
            out.append(j)
            j = bvh.parents[j]
        return out

    head, ankle = chain(joint_map['ears']), chain(joint_map['LEFT_ANKLE'])
    path = set(head) ^ set(ankle)           # the joints between the two, without their common ancestors
    length = sum(np.linalg.norm(bvh.offsets[j]) for j in path)
    return min(UNITS_M, key=lambda u: abs(np.log(length * UNITS_M[u] / ANKLE_TO_HEAD_M)))


def up_rotation(up: np.ndarray) -> np.ndarray:
    """(3, 3) rotation taking the coordinate axis nearest to `up` (3,) onto +z (a signed axis permutation)."""
    i = int(np.argmax(np.abs(up)))
    sign = np.sign(up[i])
    z, x = sign * np.eye(3)[i], np.eye(3)[(i + 1) % 3]
    return np.stack([x, np.cross(z, x), z])


def _face_forward(rotations: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(F, 3) unit face directions from the head rotations (F, 3, 3) and the body's forward directions (F, 3).

    The body's forward direction, expressed in the head joint's frame, is averaged (median) over the take; mapped
    back through each frame's head rotation it follows head turns and nods.
    """
    local = np.einsum('fba,fb->fa', rotations, forward)      # R^T f
    local = np.median(local / np.linalg.norm(local, axis=-1, keepdims=True), axis=0)
    out = rotations @ (local / np.linalg.norm(local))
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def to_h36m(positions: np.ndarray, rotations: np.ndarray, joint_map: dict[str, int],
            up: np.ndarray) -> np.ndarray:
    """Map FK output to H36M-17 joints, synthesising the joints BVH lacks as `skeleton.blazepose_to_h36m` does.

    pelvis = mid-hip, thorax = mid-shoulder, spine = mid(pelvis, thorax), head (top) = ears + 0.5 (ears - thorax),
    neck = mid(mouth, thorax) with the mouth placed from the ears along the face direction.

    Args:
        positions: (F, J, 3) world joint positions (any unit; the output has the same).
        rotations: (F, J, 3, 3) joint-to-world rotations (for the face direction).
        joint_map: from find_joint_map.
        up: (3,) world up vector.

    Returns:
        (F, 17, 3) positions in H36M order.

    """
    src = {key: positions[:, j] for key, j in joint_map.items()}
    out = np.zeros(positions.shape[:1] + (len(H36M), 3))
    for key, p in src.items():
        if key in H36M.__members__:
            out[:, H36M[key]] = p
    pelvis = 0.5 * (src['LEFT_HIP'] + src['RIGHT_HIP'])
    thorax = 0.5 * (src['LEFT_SHOULDER'] + src['RIGHT_SHOULDER'])
    ears = src['ears']
    left = (src['LEFT_HIP'] - src['RIGHT_HIP']) + (src['LEFT_SHOULDER'] - src['RIGHT_SHOULDER'])
    body_forward = np.cross(left, up)       # right-handed: left x up = forward
    face = _face_forward(rotations[:, joint_map['ears']], body_forward)
    neck_up = ears - thorax
    length = np.linalg.norm(neck_up, axis=-1, keepdims=True)
    neck_up = neck_up / length
    face = face - np.sum(face * neck_up, axis=-1, keepdims=True) * neck_up   # orthogonal to the neck
    face /= np.linalg.norm(face, axis=-1, keepdims=True)
    mouth = ears + length * (MOUTH_FORWARD * face - MOUTH_DOWN * neck_up)
    out[:, H36M.PELVIS], out[:, H36M.THORAX], out[:, H36M.SPINE] = pelvis, thorax, 0.5 * (pelvis + thorax)
    out[:, H36M.NECK], out[:, H36M.HEAD] = 0.5 * (mouth + thorax), ears + 0.5 * (ears - thorax)
    return out


def load_h36m(path: str | Path) -> MocapClip:
    """Read a BVH file into H36M-17 joints in metres, world frame right-handed with z up (see module docstring).

    Raises:
        ValueError: not valid BVH, or no JOINT_NAME_MAPS entry fits its joint names.

    """
    bvh = read_bvh(path)
    joint_map = find_joint_map(bvh.names)
    positions, rotations = forward_kinematics(bvh)
    ankles = 0.5 * (positions[:, joint_map['LEFT_ANKLE']] + positions[:, joint_map['RIGHT_ANKLE']])
    world = up_rotation(np.mean(positions[:, joint_map['ears']] - ankles, axis=0))   # file axes -> z-up
    positions = positions @ world.T * UNITS_M[detect_unit(bvh, joint_map)]
    rotations = world @ rotations
    h36m = to_h36m(positions, rotations, joint_map, up=np.array([0.0, 0.0, 1.0]))
    return MocapClip(Path(path).stem, h36m.astype(np.float32), bvh.fps)
