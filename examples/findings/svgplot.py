"""Small SVG line plots for the findings report (no plotting library).

Design.  The report's own figures are curves: distance against layer,
width, time step or training step.  simrep matrix draws the matrix
figures (heatmaps, MDS, group bars, training lines); these complete them
with one function, line_plot(), writing a self-contained SVG: axes with
"nice" ticks, optional log2 x axis, categorical x labels, error bars
(symmetric, or an interval's own ends: the report's bars are the 95%
intervals its verdicts rest on), reference lines (0 for a difference, a
claim's threshold) and a legend.  matplotlib was rejected to keep the pipeline on numpy + torch
(and because its SVGs change byte-wise between versions, which makes the
committed report noisy in git).
"""

import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _ticks(lo, hi, count=5):
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.floor(lo / step) * step
    ticks, t = [first], first
    while t < hi - 1e-9 * step:     # the last tick is at or above hi, so every point is inside the frame
        t += step
        ticks.append(round(t, 10))
    return ticks


def _bars(s):
    """[(low, high) or None] per point of a series: its "lo"/"hi" lists (an
    interval's ends), else y -+ "err", else None."""
    if s.get("lo") is not None:
        return [None if lo is None or hi is None else (lo, hi) for lo, hi in zip(s["lo"], s["hi"])]
    return [(y - e, y + e) if e else None for y, e in zip(s["y"], s.get("err") or [0] * len(s["y"]))]


def line_plot(path, series, title, xlabel, ylabel, xcats=None, logx=False, ymin=None, width=560, height=340, R=150,
              hlines=()):
    """series: [{"label", "x": [...], "y": [...], "dash": bool, "colour",
    "err": [...] (bars y -+ err) or "lo": [...], "hi": [...] (bars from lo
    to hi), "xoff": pixels (moves the series' points and bars sideways, so
    the bars of series at the same x do not hide each other), "notes": a
    short text per point (written above its bar, e.g. a p-value)}].
    xcats: category names for x = 0, 1, ... (x values are then indices).
    hlines: [(y, label)]: dotted grey reference lines, labelled in the legend."""
    L, T, B = 62, 34, 48
    pw, ph = width - L - R, height - T - B
    xs = [x for s in series for x in s["x"]]
    ys = [v for s in series for y, b in zip(s["y"], _bars(s)) for v in ((y,) if b is None else (y, b[0], b[1]))]
    ys += [y for y, _ in hlines]
    fx = (lambda v: math.log2(v)) if logx else (lambda v: v)
    x0, x1 = min(fx(x) for x in xs), max(fx(x) for x in xs)
    if xcats is not None:
        x0, x1 = -0.3, len(xcats) - 0.7
    if x1 == x0:
        x1 = x0 + 1
    pad = max([abs(s.get("xoff", 0)) for s in series] + [0])
    if pad and xcats is None:     # room for the points moved sideways at the ends
        d = (x1 - x0) * (pad + 6) / pw
        x0, x1 = x0 - d, x1 + d
    yt = _ticks(min(ys) if ymin is None else ymin, max(ys))
    y0, y1 = yt[0], yt[-1]

    def X(v):
        return L + (fx(v) - x0) / (x1 - x0) * pw

    def Y(v):
        return T + ph - (v - y0) / (y1 - y0) * ph

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="sans-serif" font-size="11">' % (width, height, width, height),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>' % (L, escape(title))]
    for t in yt:
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (L, L + pw, Y(t), Y(t)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (L - 5, Y(t) + 4, t))
    if xcats is not None:
        xt = [(i, c) for i, c in enumerate(xcats)]
    elif logx:
        xt = [(v, "%g" % v) for v in sorted(set(xs)) if v > 0]
        if len(xt) > 12:
            xt = [(v, l) for v, l in xt if abs(math.log2(v) - round(math.log2(v))) < 1e-9 and round(math.log2(v)) % 2 == 0]
    else:
        xt = [(v, "%g" % v) for v in _ticks(x0, x1) if x0 <= v <= x1]
    shown = []
    for v, lab in xt:                                     # drop labels that would overlap the previous one
        if not shown or X(v) - X(shown[-1][0]) >= 28:
            shown.append((v, lab))
    for v, lab in shown:
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (X(v), T + ph + 16, escape(str(lab))))
        o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#888"/>' % (X(v), X(v), T + ph, T + ph + 4))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>' % (L, T, pw, ph))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (L + pw / 2, height - 10, escape(xlabel)))
    o.append('<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>'
             % (T + ph / 2, escape(ylabel)))
    for k, (y, lab) in enumerate(hlines):
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#555" stroke-dasharray="2,3"/>'
                 % (L, L + pw, Y(y), Y(y)))
        ly = T + 10 + 18 * (len(series) + k)
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#555" stroke-dasharray="2,3"/>'
                 % (L + pw + 10, L + pw + 30, ly, ly))
        o.append('<text x="%d" y="%d">%s</text>' % (L + pw + 35, ly + 4, escape(lab)))
    for k, s in enumerate(series):
        c = s.get("colour") or COLOURS[k % len(COLOURS)]
        dx = s.get("xoff", 0)
        pts = [(X(x) + dx, Y(y)) for x, y in zip(s["x"], s["y"]) if not (logx and x <= 0)]
        dash = ' stroke-dasharray="5,3"' if s.get("dash") else ""
        o.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                 % (c, dash, " ".join("%.1f,%.1f" % p for p in pts)))
        for (px, py) in pts:
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px, py, c))
        for x, b in zip(s["x"], _bars(s)):
            if b is not None and not (logx and x <= 0):
                bx = X(x) + dx
                o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>' % (bx, bx, Y(b[0]), Y(b[1]), c))
                for v in b:   # caps: the interval's ends
                    o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s"/>' % (bx - 3, bx + 3, Y(v), Y(v), c))
        for x, y, b, note in zip(s["x"], s["y"], _bars(s), s.get("notes") or []):
            if note:
                top = max(y, b[1]) if b is not None else y
                o.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s">%s</text>'
                         % (X(x) + dx, Y(top) - 5, c, escape(note)))
        ly = T + 10 + 18 * k
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                 % (L + pw + 10, L + pw + 30, ly, ly, c, dash))
        o.append('<text x="%d" y="%d">%s</text>' % (L + pw + 35, ly + 4, escape(s["label"])))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
