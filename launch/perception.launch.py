"""Launch the nvb_perception graph for one camera (ROS 2 launch API; Humble, Jazzy, Kilted).

    ros2 launch nvb_perception perception.launch.py image:=/camera/image_raw namespace:=cam0
    ros2 launch nvb_perception perception.launch.py video:=/path/to/vtest.avi      # play a file as the camera
    ros2 launch nvb_perception perception.launch.py lifting:=false risk:=false     # 2D pose only
    ros2 launch nvb_perception perception.launch.py autostart:=false   # stage nodes wait for a lifecycle manager

Arguments only select and configure nodes; there is no logic here. The stage nodes, their on/off arguments,
remappings and extra config files come from the node table, nvb_perception/nodes.py. Every stage node is a
managed (lifecycle) node; `autostart` is passed to each of them last, so it wins over the params file.
"""
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from nvb_perception.nodes import STAGES


def generate_launch_description():
    namespace = LaunchConfiguration('namespace')
    params = LaunchConfiguration('params_file')
    use_sim_time = LaunchConfiguration('use_sim_time')
    video = LaunchConfiguration('video')
    common = [params, {'use_sim_time': use_sim_time}]
    lifecycle = {'autostart': LaunchConfiguration('autostart')}
    remap_image = [('image', LaunchConfiguration('image')), ('camera_info', LaunchConfiguration('camera_info'))]
    share = FindPackageShare('nvb_perception')
    stage_args = [DeclareLaunchArgument(stage, default_value=str(spec.default_on).lower(),
                                        description=f'Start {spec.node}: {spec.summary}')
                  for stage, spec in STAGES.items()]
    stage_nodes = [Node(package='nvb_perception', executable=spec.executable, namespace=namespace,
                        parameters=common + [PathJoinSubstitution([share, 'config', f]) for f in spec.params_files]
                        + [lifecycle],
                        remappings=remap_image if spec.takes_image else [],
                        condition=IfCondition(LaunchConfiguration(stage)))
                   for stage, spec in STAGES.items()]
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='', description='Namespace of this camera\'s graph'),
        DeclareLaunchArgument('image', default_value='image', description='Input sensor_msgs/Image topic'),
        DeclareLaunchArgument('camera_info', default_value='camera_info', description='Input CameraInfo topic'),
        DeclareLaunchArgument('params_file', description='Node parameters (YAML)',
                              default_value=PathJoinSubstitution([share, 'config', 'perception.yaml'])),
        DeclareLaunchArgument('use_sim_time', default_value='false', description='Use /clock (bag replay)'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='Stage nodes configure and activate themselves (false: they start '
                                          'unconfigured and wait for a lifecycle manager)'),
        DeclareLaunchArgument('video', default_value='',
                              description='Play this video/bag as the camera (empty: use a real camera topic)'),
        Node(package='nvb_perception', executable='video_publisher', namespace=namespace,
             parameters=common + [{'source': video}], remappings=remap_image,
             condition=IfCondition(PythonExpression(["'", video, "' != ''"]))),
        *stage_args,
        *stage_nodes,
    ])
