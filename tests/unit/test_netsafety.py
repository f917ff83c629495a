"""DDS discovery stays on localhost unless the user explicitly opts in."""
import os

import pytest

from nvb_perception.netsafety import localhost_only_env


def test_session_environment_is_local():
    assert os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert os.environ['ROS_LOCALHOST_ONLY'] == '1'
    assert 0 <= int(os.environ['ROS_DOMAIN_ID']) <= 101


def test_defaults_are_set():
    env = localhost_only_env({})
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST' and env['ROS_LOCALHOST_ONLY'] == '1'
    assert env['ROS_DOMAIN_ID']


def test_network_range_is_refused_unless_forced():
    with pytest.raises(RuntimeError, match='off this machine'):
        localhost_only_env({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'})
    env = localhost_only_env({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'}, domain_id=7, force=True)
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST' and env['ROS_DOMAIN_ID'] == '7'


def test_loopback_profile_only_when_the_file_exists(tmp_path):
    missing = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SYSTEM_DEFAULT', 'FASTDDS_DEFAULT_PROFILES_FILE': '/nope.xml'}
    with pytest.raises(RuntimeError):
        localhost_only_env(missing)
    profile = tmp_path / 'p.xml'
    profile.write_text('<dds/>')
    env = localhost_only_env({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SYSTEM_DEFAULT',
                              'FASTDDS_DEFAULT_PROFILES_FILE': str(profile)})
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SYSTEM_DEFAULT'


def test_shipped_loopback_profile_is_accepted_and_a_wide_one_refused(tmp_path):
    from pathlib import Path

    from nvb_perception.netsafety import loopback_profile_env
    shipped = Path(__file__).resolve().parents[2] / 'config' / 'fastdds_loopback.xml'
    env = loopback_profile_env(str(shipped), env={}, domain_id=9)
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SYSTEM_DEFAULT' and env['ROS_DOMAIN_ID'] == '9'
    wide = tmp_path / 'wide.xml'
    wide.write_text(shipped.read_text().replace('127.0.0.1', '0.0.0.0'))
    with pytest.raises(RuntimeError, match='not a loopback-only'):
        loopback_profile_env(str(wide), env={})
    with pytest.raises(RuntimeError, match='unusable'):
        loopback_profile_env(str(tmp_path / 'missing.xml'), env={})
