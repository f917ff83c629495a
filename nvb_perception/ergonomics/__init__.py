"""Ergonomic risk (RULA, REBA) from 3D H36M-17 skeletons: published tables, explicit inputs, score ranges.

Pure Python/NumPy; see docs/ergonomics.md for the body frame, angle definitions and the assumed-input policy.
"""
from .angles import DEFAULT_UP, measure
from .assess import angles_dict, assess, assess_angles, assess_reba, assess_rula, assess_skeleton
from .exposure import ExposureConfig, ExposureSummary, ExposureTracker
from .postures import ArmPosture, BodyPosture, Heuristics, postures
from .reba import COUPLINGS, RebaInputs, score_reba
from .reba import score_range as reba_score_range
from .rula import LOAD_PATTERNS, RulaInputs, Score, score_rula
from .rula import score_range as rula_score_range
from .tables import (
                     REBA_ACTION_LEVELS,
                     REBA_TABLE_A,
                     REBA_TABLE_B,
                     REBA_TABLE_C,
                     RULA_ACTION_LEVELS,
                     RULA_TABLE_A,
                     RULA_TABLE_B,
                     RULA_TABLE_C,
                     reba_action_level,
                     reba_table_a,
                     reba_table_b,
                     reba_table_c,
                     rula_action_level,
                     rula_table_a,
                     rula_table_b,
                     rula_table_c,
)

__all__ = [
    'DEFAULT_UP', 'ArmPosture', 'BodyPosture', 'Heuristics', 'measure', 'postures',
    'angles_dict', 'assess', 'assess_angles', 'assess_reba', 'assess_rula', 'assess_skeleton',
    'ExposureConfig', 'ExposureSummary', 'ExposureTracker',
    'COUPLINGS', 'RebaInputs', 'score_reba', 'reba_score_range',
    'LOAD_PATTERNS', 'RulaInputs', 'Score', 'score_rula', 'rula_score_range',
    'REBA_ACTION_LEVELS', 'REBA_TABLE_A', 'REBA_TABLE_B', 'REBA_TABLE_C', 'RULA_ACTION_LEVELS', 'RULA_TABLE_A',
    'RULA_TABLE_B', 'RULA_TABLE_C', 'reba_action_level', 'reba_table_a', 'reba_table_b', 'reba_table_c',
    'rula_action_level', 'rula_table_a', 'rula_table_b', 'rula_table_c',
]
