"""Keep DDS discovery on this machine unless the user explicitly opts into the network.

Kilted's default discovery range (SUBNET) multicasts out of every interface and silently ignores
ROS_LOCALHOST_ONLY; Humble/Jazzy only know ROS_LOCALHOST_ONLY. Setting both covers every distribution.
Call `localhost_only_env()` before any rclpy context exists (tests, demo, benchmarks do).
"""
import os

SAFE_RANGES = ('LOCALHOST', 'OFF')


def localhost_only_env(env=None, domain_id: int | None = None, force: bool = False) -> dict:
    """Set the localhost-only discovery variables (and a domain id) in `env` (default os.environ).

    Args:
        env: the mapping to change (os.environ by default); returned for chaining.
        domain_id: ROS_DOMAIN_ID to use; None keeps an existing one or derives one from the pid.
        force: overwrite a user's non-local discovery range too (tests and benchmarks use this).

    Raises:
        RuntimeError: a non-local range is set and force is False (a loopback XML profile that exists
            with SYSTEM_DEFAULT is accepted).
    """
    env = os.environ if env is None else env
    current = env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '')
    profile = env.get('FASTDDS_DEFAULT_PROFILES_FILE', '')
    loopback_profile = current == 'SYSTEM_DEFAULT' and profile and os.path.isfile(profile)
    if force or not current:
        env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    elif current not in SAFE_RANGES and not loopback_profile:
        raise RuntimeError(f'ROS_AUTOMATIC_DISCOVERY_RANGE={current} would send DDS discovery off this machine; '
                           'unset it or use LOCALHOST')
    env['ROS_LOCALHOST_ONLY'] = '1'
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    elif not env.get('ROS_DOMAIN_ID'):
        env['ROS_DOMAIN_ID'] = str(os.getpid() % 90 + 5)
    return env


def loopback_profile_env(profile: str, env=None, domain_id: int | None = None) -> dict:
    """Use the shipped loopback-only Fast DDS profile (config/fastdds_loopback.xml) instead of LOCALHOST.

    Checked first: the file exists, disables the builtin transports and allow-lists only 127.0.0.1, because
    with SYSTEM_DEFAULT a missing or wrong profile would multicast on every interface.
    """
    import xml.etree.ElementTree as ET
    env = os.environ if env is None else env
    try:
        root = ET.parse(profile).getroot()
    except (OSError, ET.ParseError) as error:
        raise RuntimeError(f'loopback profile {profile} unusable: {error}') from None
    text = ET.tostring(root, encoding='unicode')
    addresses = [e.text for e in root.iter() if e.tag.endswith('address')]
    if 'useBuiltinTransports>false<' not in text or not addresses or set(addresses) != {'127.0.0.1'}:
        raise RuntimeError(f'{profile} is not a loopback-only profile (builtin transports on, or other addresses)')
    env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'SYSTEM_DEFAULT'
    return localhost_only_env(env, domain_id=domain_id)
