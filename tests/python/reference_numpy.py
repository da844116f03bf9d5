"""An independent numpy implementation of every simrep measure (docs/measures.md).

This is the oracle of the Python tests.  It deliberately works on the full
data matrices, the way the reference code does (google/svcca cca_core and
pwcca, the Kornblith et al. CKA notebook, Ding et al.'s sim_metric), and
never on streamed moments, so that it shares no algorithm with the C library:
a bug in simrep's moment accumulation, its dead-feature bookkeeping or its
streaming pwcca cannot be reproduced here by construction.

Layout: X is n x p, Y is n x q, rows are samples (the reference code uses
the transpose; the functions below transpose where they follow it).

Every function takes float64 arrays (callers convert; simrep computes in
float64 whatever the input dtype, so tests compare against the float64 image
of the dtype-rounded values).

Departures from the reference code, each one the behaviour docs/measures.md asks for:
  - dead features (variance <= epsilon * max variance on that side) are
    dropped before any CCA-family measure (the reference keeps a feature if
    its rescaled variance is >= epsilon; same thing up to the boundary);
  - (Sigma + eps I)^(-1/2) comes from one eigh with negative round-off
    eigenvalues clamped to 0, where the reference does pinv then eigh-sqrt
    (the reference can give NaN; the two agree to round-off otherwise);
  - rounding noise (docs/measures.md, "Directions at the data's rounding
    level"): given the unit roundoff u of each side's dtype (coarser than
    float64), the eigen-directions of a side's kept covariance with
    variance <= (noise_ulps u)^2 x its total second moment about zero
    (sum over the kept features of mean(x^2)) are left out: whitening
    factor 0 (the data with them projected out), their canonical
    correlations exactly 0, svcca's directions capped at the rest, and
    pwcca's weights see the data with them projected out, the singular
    vectors of the zero correlations are the principal directions of the
    first side's data within their subspace (null_basis), every canonical
    direction is oriented by scikit-learn's svd_flip convention (largest
    entry positive: LAPACK's signs are round-off for such a matrix) and
    the QR basis gets no column for a direction its predecessors already
    span (the limit the streaming Cholesky takes); off for float64 data
    (rounding=None);
  - cka_rbf centres the rows before forming squared distances: distances
    are translation invariant, and without centring the Gram trick loses
    every digit when |mean| >> std (the golden data have small means, so
    this does not move any golden value).
"""

import numpy as np

EPSILON = 1e-10          # google/svcca's epsilon in the tutorials, simrep's default
REFERENCE_THRESHOLD = 0.98  # cca_core.get_cca_similarity's default threshold for "mean"

CCA_FAMILY = ("cca", "cca_r2", "svcca", "pwcca")
ALL_MEASURES = ("cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "cka_rbf",
                "procrustes", "procrustes_angular", "cka_angular", "shape_angular", "shape_euclidean", "linreg")
# Measures whose value does not change when X and Y are swapped.  pwcca is
# not symmetric (its weights come from one side).
SYMMETRIC = ("cca", "cca_r2", "svcca", "cka", "cka_debiased", "cka_rbf", "procrustes",
             "procrustes_angular", "cka_angular", "shape_angular", "shape_euclidean")


class Degenerate(ValueError):
    """The measure is undefined for these data (simrep reports an error)."""


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


def kept_mask(a, epsilon=EPSILON):
    """Features of a (n x p) that are not dead: var > epsilon * max var."""
    var = np.var(a, axis=0, ddof=1) if a.shape[0] > 1 else np.zeros(a.shape[1])
    vmax = var.max() if var.size else 0.0
    if vmax <= 0:
        return np.zeros(a.shape[1], dtype=bool)
    return var > epsilon * vmax


NOISE_ULPS = 4  # simrep's default noise_ulps


def noise_kept(w, a_kept, scale, unit, noise_ulps=NOISE_ULPS):
    """Which eigenvalues w (of the kept covariance divided by scale) are
    more than the rounding noise of a side whose kept raw columns are
    a_kept (n x k) with unit roundoff unit (None or float64's: all)."""
    if unit is None or unit <= 2.0 ** -53 or noise_ulps == 0:
        return np.ones(len(w), dtype=bool)
    m2 = np.sum(np.mean(a_kept * a_kept, axis=0))
    return w > (noise_ulps * unit) ** 2 * m2 / scale


def inv_sqrt_kept(m, eps, a_kept, scale, unit, noise_ulps=NOISE_ULPS):
    """inv_sqrt_psd with the rounding-noise directions given factor 0;
    returns (W, number of directions kept)."""
    w, v = np.linalg.eigh(m)
    w = np.maximum(w, 0.0)
    keep = noise_kept(w, a_kept, scale, unit, noise_ulps)
    f = np.where(keep, 1.0 / np.sqrt(w + eps), 0.0)
    return (v * f) @ v.T, int(keep.sum())


def null_basis(u, kr, cov):
    """u with its columns kr.. (the zero canonical correlations' subspace)
    replaced by the principal directions of cov within it, by descending
    variance (module comment)."""
    uz = u[:, kr:]
    w, q = np.linalg.eigh(uz.T @ cov @ uz)
    out = u.copy()
    out[:, kr:] = uz @ q[:, ::-1]
    return out


def svd_flip(u):
    return u * np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(u.shape[1])])


def inv_sqrt_psd(m, eps):
    """(m + eps I)^(-1/2) by a symmetric eigendecomposition, clamping the
    negative eigenvalues that round-off gives a PSD matrix to 0 first."""
    w, v = np.linalg.eigh(m)
    w = np.maximum(w, 0.0) + eps
    return (v / np.sqrt(w)) @ v.T


def sum_threshold(s, threshold):
    """cca_core.sum_threshold: the first i with sum(s[:i])/sum(s) >= threshold,
    None (meaning all of s) if there is none."""
    total = np.sum(s)
    for i in range(len(s)):
        if np.sum(s[:i]) / total >= threshold:
            return i
    return None


def cca_core(x, y, epsilon=EPSILON, rounding=(None, None), noise_ulps=NOISE_ULPS):
    """The CCA of get_cca_similarity on samples x features arrays.

    Returns a dict with rho (descending, k = min(kept_p, kept_q)), the full
    SVD factors u (kp x kp), vt (kq x kq), the whitening matrices, the kept
    masks and the column means of the kept features.  rounding: the unit
    roundoff of x's and y's dtypes (module comment); rank: the directions
    each side keeps, and rho beyond min(rank) is exactly 0.
    """
    x = _f64(x)
    y = _f64(y)
    if x.shape[0] < 2:
        raise Degenerate("n < 2")
    mx = kept_mask(x, epsilon)
    my = kept_mask(y, epsilon)
    if not mx.any() or not my.any():
        raise Degenerate("every feature dead on one side")
    xk = x[:, mx]
    yk = y[:, my]
    kp, kq = xk.shape[1], yk.shape[1]
    cov = np.cov(xk, yk, rowvar=False)
    sxx = cov[:kp, :kp]
    syy = cov[kp:, kp:]
    sxy = cov[:kp, kp:]
    xmax = np.max(np.abs(sxx))
    ymax = np.max(np.abs(syy))
    sxx = sxx / xmax
    syy = syy / ymax
    sxy = sxy / np.sqrt(xmax * ymax)
    wx, rx = inv_sqrt_kept(sxx, epsilon, xk, xmax, rounding[0], noise_ulps)
    wy, ry = inv_sqrt_kept(syy, epsilon, yk, ymax, rounding[1], noise_ulps)
    arr = wx @ (sxy @ wy)
    u, s, vt = np.linalg.svd(arr)  # dgesdd, full matrices, as the reference
    rho = np.abs(s)
    rho[min(rx, ry):] = 0.0
    idx = sum_threshold(rho, REFERENCE_THRESHOLD)
    return {
        "rho": rho, "u": u, "vt": vt, "wx": wx, "wy": wy,
        "mask_x": mx, "mask_y": my, "kept": [int(kp), int(kq)],
        "mean_x": xk.mean(axis=0), "mean_y": yk.mean(axis=0),
        "reference_mean": float(np.mean(rho[:idx])), "rank": [rx, ry],
    }


def cca(x, y, epsilon=EPSILON, rounding=(None, None)):
    r = cca_core(x, y, epsilon, rounding)
    return {"similarity": float(np.mean(r["rho"])), "kept": r["kept"],
            "coefs": r["rho"], "reference_mean": r["reference_mean"]}


def cca_r2(x, y, epsilon=EPSILON, rounding=(None, None)):
    r = cca_core(x, y, epsilon, rounding)
    return {"similarity": float(np.mean(r["rho"] ** 2)), "kept": r["kept"], "coefs": r["rho"]}


def svcca_dims_for(s, rule="variance", keep=0.99, dims=None):
    """How many principal directions svcca keeps, given singular values s."""
    if dims is not None and dims > 0:
        return int(min(dims, len(s)))
    vals = s ** 2 if rule == "variance" else s
    frac = np.cumsum(vals) / np.sum(vals)
    return int(np.argmax(frac >= keep) + 1) if np.any(frac >= keep) else len(s)


def svcca(x, y, keep=0.99, dims=None, rule="variance", epsilon=EPSILON, rounding=(None, None)):
    """The svcca tutorial: SVD of the centred kept features, project on the
    top directions (cacts @ V[:, :d] = U[:, :d] s[:d]), then cca; with
    rounding, never beyond the directions above the side's noise."""
    x = _f64(x)
    y = _f64(y)
    mx = kept_mask(x, epsilon)
    my = kept_mask(y, epsilon)
    if not mx.any() or not my.any():
        raise Degenerate("every feature dead on one side")
    proj = []
    ds = []
    for a, m, unit in ((x, mx, rounding[0]), (y, my, rounding[1])):
        c = a[:, m] - a[:, m].mean(axis=0)
        u, s, vt = np.linalg.svd(c, full_matrices=False)
        d = svcca_dims_for(s, rule, keep, dims)
        d = min(d, int(noise_kept(s ** 2 / (len(a) - 1), a[:, m], 1.0, unit).sum()))
        ds.append(d)
        proj.append(u[:, :d] * s[:d])
    r = cca_core(proj[0], proj[1], epsilon)
    return {"similarity": float(np.mean(r["rho"])), "kept": [int(mx.sum()), int(my.sum())],
            "dims": ds, "coefs": r["rho"]}


def pwcca_google(x, y, epsilon=EPSILON, rounding=(None, None)):
    """pwcca.compute_pwcca called with the side that keeps fewer features
    first (ties: x), the call that works in the reference.  With rounding,
    the QR basis has no column for a direction already spanned (module
    comment)."""
    x = _f64(x)
    y = _f64(y)
    kx = int(kept_mask(x, epsilon).sum())
    ky = int(kept_mask(y, epsilon).sum())
    if kx <= ky:
        s_side, o_side, units = x, y, rounding
    else:
        s_side, o_side, units = y, x, rounding[::-1]
    r = cca_core(s_side, o_side, epsilon, units)
    sk = s_side[:, r["mask_x"]]              # n x k, raw kept columns
    dropped = r["rank"] != r["kept"]
    if r["rank"][0] < sk.shape[1]:           # the data with its noise directions projected out
        c = sk - sk.mean(axis=0)
        w, v = np.linalg.eigh(np.cov(sk, rowvar=False))
        vd = v[:, np.argsort(w)[:sk.shape[1] - r["rank"][0]]]
        sk = sk - (c @ vd) @ vd.T
    if dropped:
        r["u"] = svd_flip(null_basis(r["u"], min(r["rank"]), np.cov(sk, rowvar=False)))
    mu = r["mean_x"][:, None]                # k x 1
    dirns = r["u"].T @ (sk.T - mu) + mu      # coef_x = u.T; k x n
    p_basis, rr = np.linalg.qr(dirns.T)      # n x k
    if dropped:
        d = np.abs(np.diag(rr))
        p_basis[:, d <= 1e-8 * d.max()] = 0.0
    alpha = np.sum(np.abs(p_basis.T @ sk), axis=1)
    w = alpha / np.sum(alpha)
    rho = r["rho"]
    kept = [kx, ky]
    return {"similarity": float(np.sum(w * rho)), "kept": kept, "coefs": rho, "weights": w,
            "variant": "google"}


def pwcca_ding(x, y, epsilon=EPSILON, rounding=(None, None)):
    """sim_metric (Ding et al. 2021): scoring.cca_decomp + pwcca_dist on
    centred, unit-Frobenius data (features x samples there), weights from X.
    Dead features are dropped first (see the module comment in the tests on
    why the reference's own value is noise when there are any)."""
    x = _f64(x)
    y = _f64(y)
    mx = kept_mask(x, epsilon)
    my = kept_mask(y, epsilon)
    if not mx.any() or not my.any():
        raise Degenerate("every feature dead on one side")
    a = x[:, mx].T
    b = y[:, my].T
    a = a - a.mean(axis=1, keepdims=True)
    a = a / np.linalg.norm(a)
    b = b - b.mean(axis=1, keepdims=True)
    b = b / np.linalg.norm(b)

    def inv_sqrt(m, raw, unit):
        ev, evec = np.linalg.eigh(m)
        ev = (ev + np.abs(ev)) / 2
        keep = noise_kept(ev, raw, 1.0, unit)
        inv = np.array([1 / np.sqrt(v) if v > 0 and k else 0.0 for v, k in zip(ev, keep)])
        return evec @ np.diag(inv) @ evec.T

    # the noise rule in the unit-Frobenius units of a and b
    ra = x[:, mx] / np.linalg.norm(x[:, mx] - x[:, mx].mean(axis=0)) * np.sqrt(len(x) - 1)
    rb = y[:, my] / np.linalg.norm(y[:, my] - y[:, my].mean(axis=0)) * np.sqrt(len(y) - 1)
    ia = inv_sqrt(a @ a.T, ra, rounding[0])
    ib = inv_sqrt(b @ b.T, rb, rounding[1])
    u, s, vh = np.linalg.svd(ia @ (a @ b.T) @ ib)
    rank = [int(np.sum(noise_kept(np.maximum(np.linalg.eigvalsh(m), 0), r, 1.0, unit)))
            for m, r, unit in ((a @ a.T, ra, rounding[0]), (b @ b.T, rb, rounding[1]))]
    if rank != [a.shape[0], b.shape[0]]:
        s = s.copy()
        s[min(rank):] = 0.0
        ev, evec = np.linalg.eigh(a @ a.T)
        keep = noise_kept(np.maximum(ev, 0), ra, 1.0, rounding[0])
        u = null_basis(u, min(rank), (evec * np.where(keep, np.maximum(ev, 0), 0.0)) @ evec.T)
    transformed_a = (u.T @ ia @ a).T
    weights = np.sum(np.abs(transformed_a.T @ a.T), axis=1)
    weights = weights / np.sum(weights)
    dim = min(len(weights), len(s))
    return {"similarity": float(np.dot(weights[:dim], s[:dim])),
            "kept": [int(mx.sum()), int(my.sum())], "coefs": s, "weights": weights,
            "variant": "ding"}


def pwcca(x, y, variant="google", epsilon=EPSILON, rounding=(None, None)):
    return (pwcca_google if variant == "google" else pwcca_ding)(x, y, epsilon, rounding)


def _centre(a):
    a = _f64(a)
    return a - a.mean(axis=0, keepdims=True)


def cka(x, y):
    """Kornblith notebook feature_space_linear_cka(debiased=False)."""
    xc, yc = _centre(x), _centre(y)
    num = np.linalg.norm(xc.T @ yc) ** 2
    den = np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)
    return {"similarity": float(num / den)}


def _debiased_helper(xty, ssr_x, ssr_y, sq_x, sq_y, n):
    return xty - n / (n - 2.0) * ssr_x.dot(ssr_y) + sq_x * sq_y / ((n - 1) * (n - 2))


def cka_debiased(x, y):
    """Kornblith notebook feature_space_linear_cka(debiased=True)."""
    xc, yc = _centre(x), _centre(y)
    n = xc.shape[0]
    if n < 4:
        raise Degenerate("n < 4")
    dot = np.linalg.norm(xc.T @ yc) ** 2
    nx = np.linalg.norm(xc.T @ xc)
    ny = np.linalg.norm(yc.T @ yc)
    ssr_x = np.einsum("ij,ij->i", xc, xc)
    ssr_y = np.einsum("ij,ij->i", yc, yc)
    sq_x, sq_y = ssr_x.sum(), ssr_y.sum()
    dot = _debiased_helper(dot, ssr_x, ssr_y, sq_x, sq_y, n)
    nx = np.sqrt(_debiased_helper(nx ** 2, ssr_x, ssr_x, sq_x, sq_x, n))
    ny = np.sqrt(_debiased_helper(ny ** 2, ssr_y, ssr_y, sq_y, sq_y, n))
    return {"similarity": float(dot / (nx * ny))}


def gram_rbf(x, sigma=1.0):
    """Notebook gram_rbf(x, threshold=sigma), on centred rows (see above)."""
    xc = _centre(x)
    dots = xc @ xc.T
    sq = np.diag(dots)
    d2 = -2 * dots + sq[:, None] + sq[None, :]
    med = np.median(d2)
    return np.exp(-d2 / (2 * sigma ** 2 * med))


def center_gram(g):
    g = g.copy()
    means = np.mean(g, 0, dtype=np.float64)
    means -= np.mean(means) / 2
    g -= means[:, None]
    g -= means[None, :]
    return g


def cka_rbf(x, y, sigma=1.0):
    gx = center_gram(gram_rbf(x, sigma))
    gy = center_gram(gram_rbf(y, sigma))
    s = gx.ravel().dot(gy.ravel()) / (np.linalg.norm(gx) * np.linalg.norm(gy))
    return {"similarity": float(s), "sigma": sigma}


def procrustes_similarity(x, y):
    xc, yc = _centre(x), _centre(y)
    xc = xc / np.linalg.norm(xc)
    yc = yc / np.linalg.norm(yc)
    return float(np.sum(np.linalg.svd(xc.T @ yc, compute_uv=False)))


def procrustes(x, y):
    s = procrustes_similarity(x, y)
    return {"similarity": s, "distance": 2.0 - 2.0 * s}


def procrustes_angular(x, y):
    s = procrustes_similarity(x, y)
    return {"similarity": s, "distance": float(np.arccos(min(s, 1.0)))}


def whiten(x, alpha, tol=1e-7):
    """netrep.utils.whiten(x, alpha, preserve_variance=True, eigval_tol=tol): Z."""
    if alpha > 1 - tol:
        return np.eye(x.shape[1])
    lam, v = np.linalg.eigh(x.T @ x)
    lam = np.maximum(lam, tol)
    d = alpha + (1 - alpha) * lam ** -0.5
    new_var = np.sum(alpha ** 2 * lam + 2 * alpha * (1 - alpha) * lam ** 0.5 + (1 - alpha) ** 2)
    d *= np.sqrt(np.sum(lam) / new_var)
    return (v * d) @ v.T


def linear_metric(x, y, alpha, method):
    """netrep.metrics.LinearMetric(alpha, center_columns=True, zero_pad=True,
    score_method=method).fit_score(x, y): zero-pad the narrower side,
    centre, partially whiten, align by the SVD, then the angle or the
    Frobenius norm of the difference."""
    m = max(x.shape[1], y.shape[1])
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, m - x.shape[1])))
    y = np.pad(np.asarray(y, np.float64), ((0, 0), (0, m - y.shape[1])))
    x, y = _centre(x), _centre(y)
    zx, zy = whiten(x, alpha), whiten(y, alpha)
    u, _, vt = np.linalg.svd((x @ zx).T @ (y @ zy))
    a, b = x @ zx @ u, y @ zy @ vt.T
    cos = float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))
    if method == "angular":
        return {"similarity": cos, "distance": float(np.arccos(np.clip(cos, -1, 1))), "alpha": alpha}
    return {"similarity": cos, "distance": float(np.linalg.norm(a - b, ord="fro")), "alpha": alpha}


def lstsq_r2(x, y, ridge=0.0):
    """R^2 of y from x with an intercept over y's summed variance, and per
    feature of y (0 for a constant one): numpy.linalg.lstsq of the centred
    y on the centred x (the same fit as lstsq on [x, 1], whose intercept
    absorbs the means, without the ill-conditioning a large mean gives the
    uncentred system), or with ridge > 0 the centred closed form of
    sklearn's Ridge(alpha=ridge)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if ridge == 0:
        xc = _centre(x)
        resid = _centre(y) - xc @ np.linalg.lstsq(xc, _centre(y), rcond=None)[0]
    else:
        xc, yc = _centre(x), _centre(y)
        resid = yc - xc @ np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ yc)
    ss = np.sum(_centre(y) ** 2, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(ss > 0, 1 - np.sum(resid ** 2, 0) / ss, 0.0)
    return float(1 - np.sum(resid ** 2) / np.sum(ss)), per


def linreg(x, y, ridge=0.0):
    r2, per = lstsq_r2(x, y, ridge)
    return {"similarity": r2, "reverse": lstsq_r2(y, x, ridge)[0], "coefs": per, "ridge": ridge}


def cka_angular(x, y):
    """netrep.metrics.LinearCKA().score: the angle between the centred Gram matrices."""
    xc, yc = _centre(x), _centre(y)
    k, l = xc @ xc.T, yc @ yc.T
    s = float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))
    return {"similarity": s, "distance": float(np.arccos(np.clip(s, -1, 1)))}


def compute(measure, x, y, *, epsilon=EPSILON, svcca_keep=0.99, svcca_dims=None,
            svcca_rule="variance", rbf_sigma=1.0, pwcca_variant="google", shape_alpha=1.0, ridge=0.0,
            rounding=(None, None)):
    """One measure by id, as a dict with similarity, distance and the extras
    simrep's JSON carries for it (kept, dims, coefs, weights, ...).
    rounding: the unit roundoff of x's and y's dtypes for the CCA family's
    noise rule (None: float64 data, rule off)."""
    if measure == "cca":
        r = cca(x, y, epsilon, rounding)
    elif measure == "cca_r2":
        r = cca_r2(x, y, epsilon, rounding)
    elif measure == "svcca":
        r = svcca(x, y, keep=svcca_keep, dims=svcca_dims, rule=svcca_rule, epsilon=epsilon, rounding=rounding)
    elif measure == "pwcca":
        r = pwcca(x, y, pwcca_variant, epsilon, rounding)
    elif measure == "cka":
        r = cka(x, y)
    elif measure == "cka_debiased":
        r = cka_debiased(x, y)
    elif measure == "cka_rbf":
        r = cka_rbf(x, y, rbf_sigma)
    elif measure == "procrustes":
        r = procrustes(x, y)
    elif measure == "procrustes_angular":
        r = procrustes_angular(x, y)
    elif measure == "cka_angular":
        r = cka_angular(x, y)
    elif measure in ("shape_angular", "shape_euclidean"):
        r = linear_metric(x, y, shape_alpha, measure[len("shape_"):])
    elif measure == "linreg":
        r = linreg(x, y, ridge)
    else:
        raise KeyError(measure)
    r = dict(r)
    r.setdefault("distance", 1.0 - r["similarity"])
    return r


def compute_all(x, y, measures=ALL_MEASURES, **options):
    return {m: compute(m, x, y, **options) for m in measures}
