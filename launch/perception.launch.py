"""Launch the nvb_perception graph for one camera (ROS 2 launch API; Humble, Jazzy, Kilted).

    ros2 launch nvb_perception perception.launch.py image:=/camera/image_raw namespace:=cam0
    ros2 launch nvb_perception perception.launch.py video:=/path/to/vtest.avi      # play a file as the camera
    ros2 launch nvb_perception perception.launch.py lifting:=false risk:=false     # 2D pose only

Arguments only select and configure nodes; there is no logic here.
"""
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    namespace = LaunchConfiguration('namespace')
    params = LaunchConfiguration('params_file')
    use_sim_time = LaunchConfiguration('use_sim_time')
    video = LaunchConfiguration('video')
    common = [params, {'use_sim_time': use_sim_time}]
    remap_image = [('image', LaunchConfiguration('image')), ('camera_info', LaunchConfiguration('camera_info'))]
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='', description='Namespace of this camera\'s graph'),
        DeclareLaunchArgument('image', default_value='image', description='Input sensor_msgs/Image topic'),
        DeclareLaunchArgument('camera_info', default_value='camera_info', description='Input CameraInfo topic'),
        DeclareLaunchArgument('params_file', description='Node parameters (YAML)',
                              default_value=PathJoinSubstitution([FindPackageShare('nvb_perception'), 'config',
                                                                  'perception.yaml'])),
        DeclareLaunchArgument('use_sim_time', default_value='false', description='Use /clock (bag replay)'),
        DeclareLaunchArgument('pose', default_value='true', description='Start the 2D pose node'),
        DeclareLaunchArgument('lifting', default_value='true', description='Start the 2D->3D lifting node'),
        DeclareLaunchArgument('risk', default_value='true', description='Start the RULA/REBA risk node'),
        DeclareLaunchArgument('cues', default_value='true', description='Start the non-verbal cue node'),
        DeclareLaunchArgument('actions', default_value='false',
                              description='Start the action node (needs a head trained with nvb-train-actions)'),
        DeclareLaunchArgument('video', default_value='',
                              description='Play this video/bag as the camera (empty: use a real camera topic)'),
        Node(package='nvb_perception', executable='video_publisher', namespace=namespace,
             parameters=common + [{'source': video}], remappings=remap_image,
             condition=IfCondition(PythonExpression(["'", video, "' != ''"]))),
        Node(package='nvb_perception', executable='pose_node', namespace=namespace, parameters=common,
             remappings=remap_image, condition=IfCondition(LaunchConfiguration('pose'))),
        Node(package='nvb_perception', executable='lifting_node', namespace=namespace, parameters=common,
             remappings=remap_image, condition=IfCondition(LaunchConfiguration('lifting'))),
        Node(package='nvb_perception', executable='risk_node', namespace=namespace, parameters=common,
             condition=IfCondition(LaunchConfiguration('risk'))),
        Node(package='nvb_perception', executable='cue_node', namespace=namespace,
             parameters=common + [PathJoinSubstitution([FindPackageShare('nvb_perception'), 'config', 'cues.yaml'])],
             remappings=remap_image, condition=IfCondition(LaunchConfiguration('cues'))),
        Node(package='nvb_perception', executable='action_node', namespace=namespace, parameters=common,
             remappings=remap_image, condition=IfCondition(LaunchConfiguration('actions'))),
    ])
