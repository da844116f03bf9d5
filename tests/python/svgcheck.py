"""Checks on simrep's SVG figures that do not trust the renderer's own
arithmetic: every <text> is measured with the font it is drawn in
(Liberation Sans, metric-compatible with Helvetica and Arial, which
fontconfig substitutes for both on Debian) through matplotlib's FreeType
binding, turned by its rotate() transform, and its box compared with the
canvas and with the other labels.

Used by tests/python/test_figures.py (the CLI's figures) and
tests/python_pkg/test_plot.py (simrep.plot's).
"""

import math
import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"

# Liberation Sans: ascent and descent of the em box (hhea: 1854 and 434 of
# 2048 units), so a line of text at baseline y spans y - 0.905 em .. y + 0.212 em.
ASCENT, DESCENT = 0.905, 0.212

_fonts = {}


def _font(bold):
    if bold not in _fonts:
        from matplotlib import font_manager, ft2font
        prop = font_manager.FontProperties(family="Liberation Sans", weight="bold" if bold else "normal")
        path = font_manager.findfont(prop, fallback_to_default=False)
        _fonts[bold] = ft2font.FT2Font(path)
    return _fonts[bold]


def text_width(s, size, bold=False):
    """The advance width of s at size px (1 px = 1 pt at 72 dpi)."""
    if not s:
        return 0.0
    f = _font(bold)
    f.set_size(size, 72)
    f.set_text(s)
    return f.get_width_height()[0] / 64.0


def visible_text(el):
    """What a <text> shows: its text and its children's tails (a <title>
    child is the hover text, not drawn)."""
    return (el.text or "") + "".join(ch.tail or "" for ch in el)


def parse(svg):
    """The root element of a document given as text or a path."""
    if hasattr(svg, "read_text") or (isinstance(svg, str) and not svg.lstrip().startswith("<")):
        return ET.parse(str(svg)).getroot()
    return ET.fromstring(svg.encode("utf-8") if isinstance(svg, str) else svg)


def canvas(root):
    return float(root.get("width")), float(root.get("height"))


def text_items(root):
    """[(class, text, box, angle, frame_box)] of every drawn <text>: box is
    its extent on the canvas (axis-aligned, after rotation), frame_box its
    box in a frame turned by -angle about the origin, where texts turned by
    the same angle are axis-aligned and can be compared exactly."""
    out = []
    for el in root.iter(SVG + "text"):
        s = visible_text(el)
        if not s:
            continue
        x, y, size = float(el.get("x")), float(el.get("y")), float(el.get("font-size"))
        bold = el.get("font-weight") == "bold"
        w = text_width(s, size, bold)
        anchor = el.get("text-anchor", "start")
        x0 = x - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
        box = (x0, y - ASCENT * size, x0 + w, y + DESCENT * size)
        a, cx, cy = 0.0, x, y
        m = re.match(r"rotate\(([-\d.]+) ([-\d.]+) ([-\d.]+)\)", el.get("transform", ""))
        if m:
            a, cx, cy = (float(v) for v in m.groups())
        c, s_ = math.cos(math.radians(a)), math.sin(math.radians(a))
        corners = [(box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])]
        turned = [(cx + (px - cx) * c - (py - cy) * s_, cy + (px - cx) * s_ + (py - cy) * c) for px, py in corners]
        xs, ys = [p[0] for p in turned], [p[1] for p in turned]
        # R(-a) (c) - c: where the anchor lands in the turned-back frame.
        dx, dy = cx * c + cy * s_ - cx, -cx * s_ + cy * c - cy
        frame = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
        out.append((el.get("class", ""), s, (min(xs), min(ys), max(xs), max(ys)), a, frame))
    return out


def text_boxes(root):
    """[(class, text, (x0, y0, x1, y1))] of every drawn <text> on the canvas."""
    return [(cls, s, b) for cls, s, b, _, _ in text_items(root)]


def outside_canvas(root, tol=0.5):
    """The texts whose box leaves the canvas."""
    w, h = canvas(root)
    return [(cls, s, b) for cls, s, b in text_boxes(root)
            if b[0] < -tol or b[1] < -tol or b[2] > w + tol or b[3] > h + tol]


def overlapping(root, cls, tol=0.5):
    """Pairs of texts of class cls whose glyph boxes overlap by more than
    tol px each way (texts turned alike are compared in their own frame)."""
    items = [(s, b, a, f) for c, s, b, a, f in text_items(root) if c == cls]
    bad = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            same = abs(items[i][2] - items[j][2]) < 1e-9
            a, b = (items[i][3], items[j][3]) if same else (items[i][1], items[j][1])
            if a[0] < b[2] - tol and b[0] < a[2] - tol and a[1] < b[3] - tol and b[1] < a[3] - tol:
                bad.append((items[i][0], items[j][0]))
    return bad


def elements(root, tag, cls=None):
    return [el for el in root.iter(SVG + tag) if cls is None or cls in (el.get("class") or "").split()]


# viridis at 0 and 1 (the renderer's scale ends)
VIRIDIS_LO, VIRIDIS_HI = "#440154", "#fde725"
