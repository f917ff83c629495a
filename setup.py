"""ament_python package nvb_perception (build with colcon; see README)."""
import runpy
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = 'nvb_perception'

# the node executables come from the node table (pure Python; run as a file, the package is not installed yet)
_SPECS = runpy.run_path(str(Path(__file__).resolve().parent / PACKAGE / 'nodes.py'))['NODES']
NODES = [spec.executable for spec in _SPECS]
TOOLS = {
    'nvb-perception': 'nvb_perception.launcher.cli:main',
    'nvb-export-models': 'nvb_perception.export.pose_models:main',
    'nvb-build-engines': 'nvb_perception.export.build_engines:main',
    'nvb-process-video': 'nvb_perception.offline.process_video:main',
    'nvb-process-bag': 'nvb_perception.offline.process_bag:main',
    'nvb-ergo-report': 'nvb_perception.offline.ergo_report:main',
    'nvb-bag-summary': 'nvb_perception.offline.bag_summary:main',
    'nvb-render-markers': 'nvb_perception.offline.render_markers:main',
    'nvb-train-lifter': 'nvb_perception.training.train_lifter:main',
    'nvb-export-lifter': 'nvb_perception.export.lifter:main',
    'nvb-pack-lifter': 'nvb_perception.training.pack_lifter:main',
    'nvb-eval-lifter': 'nvb_perception.evaluation.eval_lifter:main',
    'nvb-eval-ergonomics': 'nvb_perception.evaluation.eval_ergonomics:main',
    'nvb-export-face-hands': 'nvb_perception.export.face_hand_models:main',
    'nvb-eval-cues': 'nvb_perception.evaluation.eval_cues:main',
    'nvb-extract-vit': 'nvb_perception.export.extract_vit:main',
    'nvb-train-actions': 'nvb_perception.training.train_actions:main',
    'nvb-export-actions': 'nvb_perception.export.action_head:main',
    'nvb-eval-actions': 'nvb_perception.evaluation.eval_actions:main',
}

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['tests', 'tests.*']),
    # trained weights shipped with the package (small, safetensors + JSON; never pickle)
    package_data={PACKAGE: ['models/*.safetensors', 'models/*.json']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml') + glob('config/*.rviz') + glob('config/*.xml')),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='nvb_perception maintainers',
    maintainer_email='maintainers@nvb-perception.org',
    description='Pose, 3D lifting, actions, non-verbal cues and ergonomic risk from a camera, for ROS 2.',
    license='Apache-2.0',
    # not tests_require: setuptools >= 72 ignores it and colcon test would then run no test at all
    extras_require={'test': ['pytest']},
    entry_points={'console_scripts': [f'{n} = {PACKAGE}.ros.{n}:main' for n in NODES]
                  + [f'{k} = {v}' for k, v in TOOLS.items()]},
)
