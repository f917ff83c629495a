"""Offline sources and sinks: video files, image folders, rosbag2 bags (no DDS)."""
