"""The lab recording workflow on the real vtest.avi, over DDS: record, summarise, replay with sim time, process offline.

One test, in order, because each step uses the bag of the first:
1. record: video_publisher -> pose_node -> lifting_node -> risk_node, the recorder writing images, CameraInfo and
   every result to MCAP; the bag opens with rosbags and nvb-bag-summary reports what the graph saw;
2. replay: the recorded images through the same chain twice, the nodes and the recorder on sim time (/clock from
   the bag); both runs record the same messages, which are also the live recording's;
3. offline: nvb-process-bag on the bag twice: byte-identical outputs, every frame (printed: its speed against the
   recording's real time).
Playback is lock-step (video_publisher wait_for: the next frame after the risk of the previous one), so no stage
skips a frame however loaded the machine is: that is what makes the live runs comparable message for message.
Live messages are compared by content (decoded and encoded again): a node's published CDR carries uninitialised
alignment padding bytes, which differ from run to run without meaning anything.
"""
import time

import pytest

from nvb_perception.io.bag import BagReader, BagRecord, deserialize, serialize
from nvb_perception.launcher.processes import NodeProcess, ProcessGraph, TopicListener
from nvb_perception.offline import bag_summary, process_bag

N = 30                                      # frames of vtest.avi (10 fps)
RESULTS = {'/skeletons_2d': 'nvb_perception_msgs/msg/Skeleton2DArray',
           '/skeletons_3d': 'nvb_perception_msgs/msg/Skeleton3DArray',
           '/ergonomic_risk': 'nvb_perception_msgs/msg/ErgonomicRiskArray'}
CAMERA = {'/image': 'sensor_msgs/msg/Image', '/camera_info': 'sensor_msgs/msg/CameraInfo'}
TILE_PX = 288                               # vtest's people are small: the detector needs tiles to find them


def chain(sim_time: bool) -> list[NodeProcess]:
    """The chain pose -> lifting -> risk, with the same settings as nvb-process-bag --tile-px TILE_PX."""
    common = {'use_sim_time': sim_time}
    return [NodeProcess('pose_node', {**common, 'image_qos': 'reliable', 'detector_tile_px': TILE_PX}),
            NodeProcess('lifting_node', common), NodeProcess('risk_node', common)]


def recorder(bag, topics: dict, sim_time: bool, max_messages: int = 0) -> NodeProcess:
    # explicit types: subscribed at start (with sim time its graph-polling timer would wait for /clock)
    return NodeProcess('recorder', {'output': str(bag), 'topics': [f'{t}:{ty}' for t, ty in topics.items()],
                                    'use_sim_time': sim_time, 'max_messages': max_messages})


def wait_recorded(io, rec: NodeProcess, at_least: int, timeout: float = 120.0) -> None:
    """Wait until the recorder holds everything the finished player caused.

    With max_messages it exits by itself after the last one (its sim-time timers stop with /clock, so no
    diagnostics then); otherwise its /diagnostics count must reach at_least and stay the same for a report.
    """
    if rec.params['max_messages']:
        assert rec.wait(timeout) == 0, f'recorder did not get its {rec.params["max_messages"]} messages'
        return
    end, seen = time.monotonic() + timeout, []
    while io.wait_for('/diagnostics', io.count('/diagnostics') + 1, timeout=max(0.0, end - time.monotonic())):
        status = [s for _, a in io.messages['/diagnostics'] for s in a.status if s.name == '/recorder']
        seen.append(int({kv.key: kv.value for kv in status[-1].values}.get('messages', 0)) if status else -1)
        if len(seen) >= 2 and seen[-1] == seen[-2] >= at_least:
            return
    pytest.fail(f'recorder did not reach {at_least} messages: its counts {seen[-5:]}')


def wait_until_up(node, want: dict, graph, timeout: float = 120.0) -> None:
    """Wait until each topic has at least (publishers, subscribers) on the graph, i.e. every node is running."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(node.count_publishers(t) >= p and node.count_subscribers(t) >= s for t, (p, s) in want.items()):
            time.sleep(1.0)             # seen from here; let the nodes finish matching each other too
            return
        time.sleep(0.1)
    pytest.fail('graph did not come up:\n' + graph.logs())


def run_graph(io, nodes, want, player, log_dir, at_least: int) -> str:
    """Start the chain and recorder, then the player once they are up; stop the recorder when it is done."""
    with ProcessGraph(nodes, log_dir) as graph:
        wait_until_up(io.node, want, graph)
        with ProcessGraph([player], log_dir) as played:
            code = player.wait(180)
        assert code == 0, graph.logs() + played.logs()
        wait_recorded(io, nodes[-1], at_least)      # the last result is acked to the player, maybe not yet here
        assert nodes[-1].stop() == 0, graph.logs() + played.logs()
    log = graph.logs() + played.logs()
    assert 'timed out' not in player.log(), log      # lock-step held: every frame's result came back
    return log


def records(bag, topics) -> dict:
    """Each topic with its [(record stamp, raw CDR)]."""
    out = {t: [] for t in topics}
    for r in BagReader(bag).messages(topics):
        out[r.topic].append((r.stamp_ns, r.raw))
    return out


def header_ns(raw: bytes, msgtype: str) -> int:
    msg = deserialize(BagRecord('', msgtype, 0, raw))
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def contents(pairs, msgtype: str) -> list[bytes]:
    """The messages encoded again by rosbags, with zero padding: equal exactly when every field is equal."""
    return [serialize(deserialize(BagRecord('', msgtype, 0, raw)), msgtype) for _, raw in pairs]


@pytest.mark.slow
def test_record_replay_and_offline(assets, tmp_path, log_dir, capsys):
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    recorded = tmp_path / 'lab_bag'
    with TopicListener({'/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}, depth=200) as io:
        # 1. record, like the lab: camera stamps and record times on the wall clock, the video at its own 10 fps
        nodes = chain(False) + [recorder(recorded, {**CAMERA, **RESULTS}, False)]
        player = NodeProcess('video_publisher', {'source': str(video), 'max_frames': N, 'rate': 1.0,
                                                 'wait_for': 'ergonomic_risk', 'wait_for_subscribers': 2,
                                                 'wait_for_readers': ['camera_info:3']})
        want = {'/image': (0, 2), '/camera_info': (0, 3), '/skeletons_2d': (1, 2), '/skeletons_3d': (1, 2),
                '/ergonomic_risk': (1, 1)}
        # at least: the images, their results and one CameraInfo each
        run_graph(io, nodes, want, player, log_dir / 'record', (2 + len(RESULTS)) * N)

        from rosbags.rosbag2 import Reader
        assert list(recorded.glob('*.mcap')), list(recorded.iterdir())
        with Reader(recorded) as reader:
            counts = {c.topic: c.msgcount for c in reader.connections}
        # CameraInfo also goes out while the first frame is held (so late best-effort readers have it): >= N
        assert counts.pop('/camera_info') >= N and counts == {t: N for t in ['/image', *RESULTS]}, counts
        live = records(recorded, list({**CAMERA, **RESULTS}))

        assert bag_summary.main([str(recorded), '--json', str(tmp_path / 'summary.json')]) == 0
        print(capsys.readouterr().out)
        summary = bag_summary.summarise(recorded)
        assert summary['frames'] == N and summary['people']['topic'] == '/skeletons_2d'
        people = summary['people']
        assert people['track_ids'] and 1 <= people['max_concurrent'] <= 4
        assert 0 < people['person_seconds'] <= people['max_concurrent'] * summary['duration_s']
        risk = summary['risk']['tracks']
        assert {r['method'] for r in risk} == {'RULA', 'REBA'}
        assert {r['track_id'] for r in risk} <= set(people['track_ids'])
        for r in risk:
            assert abs(sum(r['action_level_share'].values()) - 1.0) < 1e-3 or r['seen_s'] == 0
            assert 1 <= r['peak_score'] <= r['peak_score_max'] <= (7 if r['method'] == 'RULA' else 15)
        lat = summary['latency']
        # camera -> recorder on the wall clock: positive, and later after each stage
        assert 0 < lat['/skeletons_2d']['p50_ms'] <= lat['/skeletons_3d']['p50_ms'] <= \
            lat['/ergonomic_risk']['p50_ms'] < 10_000

        # 2. replay the recorded images twice on sim time: /clock from the bag's record times
        clock = [stamp for stamp, _ in live['/image']]
        image_stamps = [header_ns(raw, CAMERA['/image']) for _, raw in live['/image']]
        replays = []
        for run in ('a', 'b'):
            bag = tmp_path / f'replay_{run}'
            nodes = chain(True) + [recorder(bag, RESULTS, True, max_messages=len(RESULTS) * N)]
            player = NodeProcess('video_publisher', {'source': str(recorded), 'bag_topic': '/image', 'rate': 0.0,
                                                     'publish_clock': True, 'wait_for': 'ergonomic_risk',
                                                     'wait_for_subscribers': 1,
                                                     'wait_for_readers': ['camera_info:2', '/clock:4']})
            want = {'/image': (0, 1), '/camera_info': (0, 2), '/clock': (0, 4), '/skeletons_2d': (1, 2),
                    '/skeletons_3d': (1, 2), '/ergonomic_risk': (1, 1)}
            run_graph(io, nodes, want, player, log_dir / f'replay_{run}', len(RESULTS) * N)
            replays.append(records(bag, list(RESULTS)))
    a, b = replays
    for topic, msgtype in RESULTS.items():
        assert len(a[topic]) == N, topic
        # message for message the same (header stamps and contents), and the same as the live recording
        assert contents(a[topic], msgtype) == contents(b[topic], msgtype), topic
        assert contents(a[topic], msgtype) == contents(live[topic], msgtype), topic
        assert [header_ns(raw, msgtype) for _, raw in a[topic]] == image_stamps
        # the recorder stamped sim time: the result of frame k arrived while /clock was frame k's (or k+1's), or
        # k-1's when the recorder read the result before its /clock update (DDS orders messages per topic only)
        for k, (stamp, _) in enumerate(a[topic]):
            assert clock[max(k - 1, 0)] <= stamp <= clock[min(k + 1, N - 1)], (topic, k)

    # 3. offline, twice: every frame, the same bytes
    outs = []
    for run in ('a', 'b'):
        start = time.perf_counter()
        assert process_bag.main([str(recorded), '--out', str(tmp_path / f'offline_{run}'), '--topic', '/image',
                                 '--tile-px', str(TILE_PX)]) == 0
        outs.append((tmp_path / f'offline_{run}', time.perf_counter() - start))
    (out_a, wall_a), (out_b, wall_b) = outs
    assert (out_a / 'skeletons.csv').read_bytes() == (out_b / 'skeletons.csv').read_bytes()
    offline = [records(o / 'skeletons_bag', ['/skeletons_2d'])['/skeletons_2d'] for o, _ in outs]
    assert offline[0] == offline[1] and len(offline[0]) == len(live['/image']) == N
    # the offline tool and the live pose_node give the same skeletons for the same frames
    assert contents(offline[0], RESULTS['/skeletons_2d']) == contents(live['/skeletons_2d'], RESULTS['/skeletons_2d'])
    # printed, not asserted: the speed depends on the machine and its load (the count above is the point)
    recording_s = (image_stamps[-1] - image_stamps[0]) * 1e-9 + 0.1     # + one frame of the 10 fps video
    print(f'offline: {N} of {N} frames in {wall_a:.2f} s / {wall_b:.2f} s (models loaded included); the recording '
          f'took {recording_s:.2f} s: {recording_s / max(wall_a, wall_b):.2f}x its real time, '
          f'{N / 10 / max(wall_a, wall_b):.2f}x the video\'s 10 fps')


def test_bag_summary_numbers_on_a_known_bag(tmp_path):
    """A 2 s bag at 10 fps with known people, cues, risks and actions; record times 50 ms after the stamps."""
    import numpy as np
    from rclpy.serialization import serialize_message

    from nvb_perception.io.bag import BagWriter
    from nvb_perception.ros import convert
    from nvb_perception.types import (
        Action,
        ActionFrame,
        Cue,
        CueFrame,
        ErgonomicRisk,
        ErgonomicRiskFrame,
        Skeleton2D,
        Skeleton2DFrame,
        Stamp,
    )
    sec = 10**9

    def person(track_id, state):
        return Skeleton2D(np.zeros((33, 2)), np.ones(33), track_id=track_id, track_state=state)

    def cue(name, track_id, start, end=None):
        return Cue(name, track_id, active=end is None, confidence=0.8, start_ns=start, end_ns=end or 0)

    bag = tmp_path / 'known_bag'
    with BagWriter(bag) as writer:
        for topic, msgtype in RESULTS.items():
            writer.add_topic(topic, msgtype)
        writer.add_topic('/cues', 'nvb_perception_msgs/msg/CueArray')
        writer.add_topic('/actions', 'nvb_perception_msgs/msg/ActionArray')
        for i in range(21):
            stamp = Stamp(i * sec // 10, 'cam')
            # person 1 all along; person 2 seen in frames 0-10, then lost (not counted)
            people = (person(1, 1), person(2, 1 if i <= 10 else 2))
            nod = (cue('head_nod', 1, 5 * sec // 10),) if 5 <= i < 10 else \
                (cue('head_nod', 1, 5 * sec // 10, sec),) if i == 10 else ()
            smile = (cue('smile', 2, 15 * sec // 10),) if i >= 15 else ()       # still going at the end
            level, score = (2, 3) if i <= 10 else (3, 5)
            risk = ErgonomicRisk('RULA', 1, score, score, 6, level, 'investigate')
            walk = Action(('walk', 'sit'), np.array([0.9 if i <= 10 else 0.1, 0.2], np.float32), track_id=1)
            for topic, msg in (('/skeletons_2d', convert.skeleton2d_frame_to_msg(Skeleton2DFrame(stamp, (640, 480),
                                                                                                 people))),
                               ('/ergonomic_risk', convert.ergonomic_risk_frame_to_msg(ErgonomicRiskFrame(stamp,
                                                                                                          (risk,)))),
                               ('/cues', convert.cue_frame_to_msg(CueFrame(stamp, nod + smile))),
                               ('/actions', convert.action_frame_to_msg(ActionFrame(stamp, (walk,))))):
                writer.write(topic, stamp.stamp_ns + 50_000_000, serialize_message(msg))
    s = bag_summary.summarise(bag)
    assert s['duration_s'] == 2.0 and s['frames'] == 21
    assert s['topics']['/skeletons_3d']['messages'] == 0 and s['topics']['/cues']['messages'] == 21
    assert s['people'] == {'topic': '/skeletons_2d', 'track_ids': [1, 2], 'person_seconds': 3.0, 'max_concurrent': 2}
    assert s['cues'] == {'head_nod': {'episodes': 1, 'total_s': 0.5, 'track_ids': [1]},
                         'smile': {'episodes': 1, 'total_s': 0.5, 'track_ids': [2]}}
    assert s['risk']['tracks'] == [{'track_id': 1, 'method': 'RULA', 'frames': 21, 'seen_s': 2.0,
                                    'action_level_share': {2: 0.5, 3: 0.5}, 'peak_score': 5, 'peak_score_max': 6}]
    assert s['actions'] == {'sit': 0.0, 'walk': 1.0}
    assert s['latency']['/skeletons_2d'] == {'p50_ms': 50.0, 'p95_ms': 50.0, 'messages': 21}
    assert '2 track ids, 3.0 person-seconds, at most 2 at once' in bag_summary.text(s)


def test_bag_summary_errors_are_one_line(tmp_path, capsys):
    from rosbags.typesys import Stores, get_typestore

    from nvb_perception.io.bag import BagWriter
    (tmp_path / 'folder').mkdir()
    other = tmp_path / 'other_bag'
    with BagWriter(other) as writer:
        writer.add_topic('/chatter', 'std_msgs/msg/String')
        store = get_typestore(Stores.ROS2_KILTED)
        text = store.types['std_msgs/msg/String'](data='hi')
        writer.write('/chatter', 1, bytes(store.serialize_cdr(text, 'std_msgs/msg/String')))
    for path, expected in ((tmp_path / 'missing', 'does not exist'),
                           (tmp_path / 'folder', 'not a rosbag2 bag'),
                           (other, 'it has: /chatter [std_msgs/msg/String]')):
        assert bag_summary.main([str(path)]) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count('\n') == 1 and err.startswith('nvb-bag-summary: '), err


@pytest.mark.slow
def test_video_player_is_the_clock(assets, log_dir):
    """publish_clock with a video: /clock carries each frame's time in the file, which also stamps the images."""
    video = assets / 'data' / 'opencv' / 'vtest.avi'
    player = NodeProcess('video_publisher', {'source': str(video), 'max_frames': 5, 'rate': 0.0, 'stamp': 'now',
                                             'publish_clock': True, 'wait_for_readers': ['image:1', '/clock:1']})
    with TopicListener({'image': CAMERA['/image'], '/clock': 'rosgraph_msgs/msg/Clock'}) as io, \
            ProcessGraph([player], log_dir) as graph:
        assert player.wait(60) == 0, graph.logs()
        assert io.wait_for('image', 5, timeout=10), graph.logs()
        frames = [i * 100_000_000 for i in range(5)]          # vtest.avi is 10 fps
        end = time.monotonic() + 10                           # the last /clock may still be on its way
        while time.monotonic() < end and not set(frames) <= {m.clock.sec * 10**9 + m.clock.nanosec
                                                             for _, m in io.messages['/clock']}:
            time.sleep(0.05)
    assert [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in io.messages['image']] == frames
    clock = [m.clock.sec * 10**9 + m.clock.nanosec for _, m in io.messages['/clock']]
    assert clock == sorted(clock) and set(clock) == set(frames), clock


def test_the_clock_cannot_follow_itself(tmp_path, log_dir):
    bad = NodeProcess('video_publisher', {'source': str(tmp_path), 'publish_clock': True, 'use_sim_time': True})
    with ProcessGraph([bad], log_dir):
        assert bad.wait(30) == 2
    assert 'needs use_sim_time:=false' in bad.log() and 'Traceback' not in bad.log()
