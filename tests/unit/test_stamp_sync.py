"""StampSync: parts matched by stamp, bounded, in arrival order, with every unmatched part reported."""
import pytest

from nvb_perception.ros.stamp_sync import StampSync


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make(capacity=30):
    lost = []
    clock = Clock()
    return StampSync(capacity, lost.append, clock), lost, clock


def test_parts_of_one_stamp_pair_up_in_any_order():
    sync, lost, _ = make()
    assert not sync.add('skeletons', 5, 'S5').has('image', 'skeletons')
    match = sync.add('image', 5, 'I5')
    assert match.has('image', 'skeletons') and match.parts == {'skeletons': 'S5', 'image': 'I5'}
    assert sync.take(5) is match and len(sync) == 0 and lost == []


def test_older_stamps_can_be_dropped_and_taking_leaves_the_others():
    sync, lost, _ = make()
    for stamp in (1, 2, 3):
        sync.add('image', stamp, f'I{stamp}')
    sync.add('skeletons', 2, 'S2')
    sync.drop_older(2)
    assert lost == ['image'] and sync.unmatched == {'image': 1}
    assert sync.take(2).parts == {'image': 'I2', 'skeletons': 'S2'} and list(sync.entries) == [3]
    assert sync.take(99) is None


def test_bounded_the_oldest_entry_goes_and_is_counted_per_part():
    sync, lost, _ = make(capacity=2)
    sync.add('image', 1, 'I1')
    sync.add('2d', 1, 'A1')
    sync.add('image', 2, 'I2')
    sync.add('image', 3, 'I3')
    assert list(sync.entries) == [2, 3] and sorted(lost) == ['2d', 'image']


def test_first_is_the_entry_whose_part_came_first_not_the_first_entry():
    sync, _, clock = make()
    sync.add('image', 10, 'I10')      # an image that came early; its 2D frame comes last
    clock.now = 1.0
    sync.add('2d', 4, 'A4')
    clock.now = 2.0
    sync.add('2d', 10, 'A10')
    assert sync.first('2d').stamp_ns == 4 and sync.first('3d') is None


def test_expire_and_waited_use_the_clock():
    sync, lost, clock = make()
    sync.add('image', 1, 'I1')
    clock.now = 1.0
    sync.add('2d', 2, 'A2')
    clock.now = 2.5
    assert sync.entries[2].waited('2d', clock.now) == 1.5 and sync.entries[2].waited('3d', clock.now) == 1.5
    sync.expire(2.0, keep='2d')
    assert list(sync.entries) == [2] and lost == ['image']
    sync.clear()
    assert len(sync) == 0 and lost == ['image']           # a reset is not counted


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        StampSync(0)
