"""The pure marker scene: RViz's ADD / DELETE / DELETEALL / lifetime rules, poses, and what render() draws."""
import math

import numpy as np
import pytest

from nvb_perception.scene import BACKGROUND, MarkerScene, SceneMarker, View, render, transform

RED, GREEN = (1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0)
RED_BGR, GREEN_BGR = (0, 0, 255), (0, 255, 0)


def line(ns='body', marker_id=1, color=RED, lifetime_s=0.0, z=2.0, frame_id='cam'):
    """A horizontal bar 1 m wide, `z` metres in front of the camera."""
    return SceneMarker(ns, marker_id, 'line_list', np.array([[-0.5, 0, z], [0.5, 0, z]]), color, 0.02,
                       frame_id=frame_id, lifetime_s=lifetime_s)


def colored(img, bgr, tolerance=40):
    return (np.abs(img.astype(int) - np.array(bgr)).max(axis=2) <= tolerance)


def test_add_replaces_the_marker_with_the_same_namespace_and_id():
    scene = MarkerScene()
    scene.add(line(marker_id=1), 0.0)
    scene.add(line(marker_id=2), 0.0)
    scene.add(line(ns='other', marker_id=1), 0.0)
    scene.add(line(marker_id=1, color=GREEN), 0.0)             # MODIFY: same key, new content
    assert scene.keys() == {('body', 1), ('body', 2), ('other', 1)}
    assert scene.markers[('body', 1)].color == GREEN


def test_delete_and_delete_all():
    scene = MarkerScene()
    for key in (('a', 1), ('a', 2), ('b', 1)):
        scene.add(line(*key), 0.0)
    scene.delete('a', 1)
    scene.delete('a', 99)                                       # unknown: ignored, as RViz does
    assert scene.keys() == {('a', 2), ('b', 1)}
    scene.delete_all('b')                                       # one namespace
    assert scene.keys() == {('a', 2)}
    scene.add(line('c', 1), 0.0)
    scene.delete_all('')                                        # everything
    assert scene.keys() == set()


def test_lifetime_counts_from_the_last_add():
    scene = MarkerScene()
    scene.add(line('short', lifetime_s=1.0), 10.0)
    scene.add(line('forever', lifetime_s=0.0), 10.0)
    scene.expire(10.9)
    assert scene.keys() == {('short', 1), ('forever', 1)}
    scene.add(line('short', lifetime_s=1.0), 10.8)              # re-added: lifetime restarts
    scene.expire(11.5)
    assert ('short', 1) in scene.keys()
    scene.expire(11.8)
    assert scene.keys() == {('forever', 1)}
    scene.expire(1e9)
    assert scene.keys() == {('forever', 1)}


def test_markers_in_another_frame_are_skipped_and_counted():
    scene = MarkerScene('cam')
    scene.add(line(frame_id='world'), 0.0)
    scene.add(line(marker_id=2, frame_id='cam'), 0.0)
    assert scene.keys() == {('body', 2)} and scene.other_frames == 1


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match='arrow'):
        SceneMarker('a', 1, 'arrow', np.zeros((1, 3)), RED, 0.1)


def test_transform_applies_quaternion_then_translation():
    quarter_turn_z = (0.0, 0.0, math.sin(math.pi / 4), math.cos(math.pi / 4))
    assert np.allclose(transform([[1, 0, 0]], (0, 0, 5), quarter_turn_z), [[0, 1, 5]])
    assert np.allclose(transform([[1, 2, 3]], (1, 1, 1), (0, 0, 0, 0)), [[2, 3, 4]])   # zero quaternion: identity


def test_camera_view_projects_like_a_pinhole():
    view = View.camera((200, 100), hfov_deg=90.0)              # f = 100 px, centre (99.5, 49.5)
    uv, z = view.project([[0.5, 0.25, 1.0], [0.0, 0.0, 2.0]])
    assert np.allclose(uv, [[149.5, 74.5], [99.5, 49.5]]) and np.allclose(z, [1.0, 2.0])


def test_render_draws_lines_where_they_project_and_nothing_after_delete():
    view = View.camera((200, 100), hfov_deg=90.0)
    scene = MarkerScene()
    scene.add(line(z=2.0), 0.0)                                 # from u = 99.5 - 25 to 99.5 + 25 at v = 49.5
    img = render(scene, view, grid=False)
    red = colored(img, RED_BGR)
    assert red[49:51, 80:120].any(axis=0).all() and not red[:40].any() and not red[60:].any()
    assert not red[:, :70].any() and not red[:, 130:].any()
    scene.delete('body', 1)
    assert not colored(render(scene, view, grid=False), RED_BGR).any()


def test_render_text_points_and_clipping_behind_the_camera():
    view = View.camera((200, 100), hfov_deg=90.0)
    scene = MarkerScene()
    scene.add(SceneMarker('label', 1, 'text', np.array([[0.0, -0.3, 2.0]]), GREEN, 0.1, text='#1 RULA 3'), 0.0)
    scene.add(SceneMarker('joints', 1, 'points', np.array([[0.5, 0.3, 2.0]]), RED, 0.05), 0.0)
    scene.add(SceneMarker('behind', 1, 'line_strip', np.array([[0, 0, -1.0], [0, 0.1, -2.0]]), RED, 0.05), 0.0)
    img = render(scene, view, grid=False)
    green, red = colored(img, GREEN_BGR), colored(img, RED_BGR)
    rows, cols = np.nonzero(green)
    assert green.sum() > 30 and abs(rows.mean() - 34.5) < 6 and abs(cols.mean() - 99.5) < 10   # text at (99.5, 34.5)
    rows, cols = np.nonzero(red)
    assert red.sum() > 3 and abs(rows.mean() - 64.5) < 2 and abs(cols.mean() - 124.5) < 2     # only the point
    empty = render(MarkerScene(), view, grid=False)
    assert (empty == np.array(BACKGROUND, np.uint8)).all()


def test_side_view_shows_depth_left_to_right_and_frames_everything():
    near, far = np.array([[0, 0, 2.0]]), np.array([[0, 0, 6.0]])
    view = View.side(np.vstack([near, far, [[0, 1.5, 6.0]]]), (400, 300))
    uv, z = view.project(np.vstack([np.zeros((1, 3)), near, far]))
    assert (z > 0).all() and uv[0, 0] < uv[1, 0] < uv[2, 0]   # camera, then 2 m, then 6 m
    assert ((uv >= 0) & (uv < [400, 300])).all()
    scene = MarkerScene()
    scene.add(line(z=4.0), 0.0)
    img = render(scene, view, title=view.name)
    assert img.shape == (300 + 26, 400, 3) and colored(img, RED_BGR).any()
