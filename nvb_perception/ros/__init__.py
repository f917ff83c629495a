"""ROS 2 glue: the only subpackage that imports rclpy, message packages or cv_bridge."""
