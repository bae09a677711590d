#!/usr/bin/python3
"""Check that an X window dump (xwd -root) shows non-blank content; optionally write a PNG.

  xwd_check.py SHOT.xwd [--png OUT.png] [--min-colors N] [--min-fraction F]

Reads a ZPixmap XWD of 24 or 32 bits per pixel (what Xvfb's default visual gives),
counts distinct colours and the fraction of pixels that differ from the most common
colour (the background). Exit 0 and one summary line when both reach the minimums
(defaults: 8 colours, 2% of the pixels), else exit 1 naming what was found.
Standard library only (struct, zlib), so tests need no imaging package.
"""
import argparse
import collections
import struct
import sys
import zlib


def read_xwd(path):
    data = open(path, "rb").read()
    if len(data) < 100:
        raise ValueError(f"{path}: {len(data)} bytes, too short for an XWD header")
    hsize = struct.unpack(">I", data[0:4])[0]
    endian = ">"
    if hsize > 10000:
        endian = "<"
        hsize = struct.unpack("<I", data[0:4])[0]
    f = struct.unpack(endian + "25I", data[0:100])
    (header_size, version, fmt, depth, width, height, _xoff, byte_order, _unit, _bit_order, _pad, bpp,
     bytes_per_line, _vclass, _rmask, _gmask, _bmask, _bits_rgb, _cmap_entries, ncolors) = f[:20]
    if version != 7:
        raise ValueError(f"{path}: XWD version {version}, expected 7")
    if fmt != 2:
        raise ValueError(f"{path}: pixmap format {fmt}, expected 2 (ZPixmap)")
    if bpp not in (24, 32):
        raise ValueError(f"{path}: {bpp} bits per pixel, expected 24 or 32")
    offset = header_size + 12 * ncolors
    need = offset + bytes_per_line * height
    if len(data) < need:
        raise ValueError(f"{path}: {len(data)} bytes, the header promises {need}")
    step = bpp // 8
    rows = []
    for y in range(height):
        line = data[offset + y * bytes_per_line: offset + y * bytes_per_line + width * step]
        px = []
        for x in range(width):
            p = line[x * step: x * step + step]
            if byte_order == 0:  # LSBFirst: B G R (X)
                b, g, r = p[0], p[1], p[2]
            else:
                r, g, b = p[-3], p[-2], p[-1]
            px.append((r, g, b))
        rows.append(px)
    return width, height, depth, rows


def write_png(path, width, height, rows):
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("xwd")
    ap.add_argument("--png")
    ap.add_argument("--min-colors", type=int, default=8)
    ap.add_argument("--min-fraction", type=float, default=0.02)
    a = ap.parse_args()
    try:
        width, height, depth, rows = read_xwd(a.xwd)
    except (OSError, ValueError) as e:
        print(f"xwd_check: error: {e}", file=sys.stderr)
        return 1
    counts = collections.Counter(px for row in rows for px in row)
    total = width * height
    background, bg_count = counts.most_common(1)[0]
    fraction = 1.0 - bg_count / total
    if a.png:
        write_png(a.png, width, height, rows)
    summary = (f"{a.xwd}: {width}x{height} depth {depth}, {len(counts)} colours, "
               f"{100 * fraction:.1f}% of pixels differ from the background {background}")
    if len(counts) < a.min_colors or fraction < a.min_fraction:
        print(f"xwd_check: blank screen: {summary} (need {a.min_colors} colours and "
              f"{100 * a.min_fraction:.1f}%)", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
