"""Which joints and landmarks the body cues read, per joint set, and when a joint counts as seen."""
from nvb_perception.skeleton import H36M, BlazePose, Coco

VISIBLE = 0.3                      # joints below this confidence count as not observed
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIMB_NAMES = {'l_sh': 'LEFT_SHOULDER', 'r_sh': 'RIGHT_SHOULDER', 'l_el': 'LEFT_ELBOW', 'r_el': 'RIGHT_ELBOW',
              'l_wr': 'LEFT_WRIST', 'r_wr': 'RIGHT_WRIST', 'l_hip': 'LEFT_HIP', 'r_hip': 'RIGHT_HIP',
              'l_knee': 'LEFT_KNEE', 'r_knee': 'RIGHT_KNEE', 'l_ank': 'LEFT_ANKLE', 'r_ank': 'RIGHT_ANKLE'}
ENUMS = {'blazepose33': BlazePose, 'coco17': Coco, 'h36m17': H36M}
SIDE = {'left': 'l', 'right': 'r'}
HAND_OUTLINE = (0, 1, 2, 4, 5, 8, 12, 16, 17, 20)   # wrist, thumb base/tip, finger bases and tips: the outline
