"""Point the ROS wheels' CMake exports at this interpreter's headers and this venv's numpy.

Every message wheel's share/<pkg>/cmake/export_<pkg>__rosidl_generator_pyExport.cmake names the wheel
builder's manylinux paths (/opt/python/cp311-cp311/...). CMake refuses imported targets whose include
directories do not exist, so building our own .msg package fails until they are rewritten. Idempotent.
"""
import pathlib
import sys
import sysconfig

import numpy

OLD_PY = '/opt/python/cp311-cp311/include/python3.11'
OLD_NP = '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include'


def main() -> int:
    share = pathlib.Path(sys.prefix) / 'share'
    patched, left = 0, []
    for f in share.glob('*/cmake/*.cmake'):
        text = f.read_text()
        if '/opt/python/' not in text:
            continue
        new = text.replace(OLD_NP, numpy.get_include()).replace(OLD_PY, sysconfig.get_paths()['include'])
        f.write_text(new)
        patched += 1
        if '/opt/python/' in new:
            left.append(str(f))
    print(f'cmake fix-up: patched {patched} files' + (f'; unresolved: {left}' if left else ''))
    return 1 if left else 0


if __name__ == '__main__':
    sys.exit(main())
