"""Starting the node graph: the stand-in for `ros2 launch` where launch/launch_ros are not installed.

`nvb-perception run` (cli.py) builds the graph from the node specs (graph.py), starts each node as a process or
all in one process, supervises and restarts them (runner.py, processes.py). On a full ROS install
`ros2 launch nvb_perception perception.launch.py` starts the same graph. A deployed robot needs neither: it runs
the nodes (nvb_perception.ros) under its own launch system.
"""
