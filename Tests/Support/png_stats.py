#!/usr/bin/env python3
"""Pixel statistics of a PNG screenshot, with the standard library only (no PIL needed).

Usage: png_stats.py FILE [x,y,w,h ...]
Prints one JSON object: width, height, the share of pixels that differ from the most common
colour ("ink"), the number of distinct colours, and for each rectangle given the ink share
inside it. The report's browser test uses it to tell a rendered page from a blank one and to
see that the series headings were painted where the browser laid them out.
"""
import json
import struct
import sys
import zlib
from collections import Counter


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG file")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    pixels = [[row[x * channels:x * channels + 3] for x in range(width)] for row in rows]
    return width, height, pixels


def ink(pixels, x0, y0, x1, y1):
    area = [pixels[y][x] for y in range(max(y0, 0), min(y1, len(pixels))) for x in range(max(x0, 0), min(x1, len(pixels[0])))]
    if not area:
        return 0.0
    background, _ = Counter(area).most_common(1)[0]
    return sum(1 for p in area if p != background) / len(area)


def main():
    width, height, pixels = decode(sys.argv[1])
    every = [p for row in pixels for p in row]
    result = {
        "width": width,
        "height": height,
        "ink": ink(pixels, 0, 0, width, height),
        "colours": len(set(every)),
        "rects": [],
    }
    for text in sys.argv[2:]:
        x, y, w, h = (int(float(v)) for v in text.split(","))
        result["rects"].append(ink(pixels, x, y, x + w, y + h))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
