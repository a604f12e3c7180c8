"""Compares two capture folders frame by frame in kind and order (direction, command, macro
stage, header name), ignoring what differs from run to run (queue ids, ports, dates, host names).
Usage: python3 compare_shapes.py COMMITTED_DIR NEW_DIR. Exit 0 when every capture in NEW_DIR has
the shape of the committed one of the same name.
"""
import difflib
import os
import sys


def shape(path):
    frames = []
    with open(path) as capture:
        for number, line in enumerate(capture, 1):
            if not line.startswith(("mta>", "<flt")):
                continue
            frame = bytes.fromhex(line[4:].strip())
            if len(frame) < 5 or int.from_bytes(frame[:4], "big") != len(frame) - 4:
                raise SystemExit(f"{path}:{number}: the length prefix does not match the frame")
            code = chr(frame[4])
            if code == "D":
                code += chr(frame[5])
            elif code == "L":
                code += ":" + frame[5:].split(b"\0")[0].decode("latin-1")
            frames.append(line[:4] + " " + code)
    return frames


committed, fresh = sys.argv[1:3]
status = 0
for name in sorted(n for n in os.listdir(fresh) if n.endswith(".txt")):
    old, new = shape(os.path.join(committed, name)), shape(os.path.join(fresh, name))
    if old == new:
        print(f"{name}: same shape ({len(new)} frames)")
    else:
        status = 1
        print(f"{name}: DIFFERENT")
        print("\n".join(difflib.unified_diff(old, new, "committed", "new", lineterm="", n=1)))
sys.exit(status)
