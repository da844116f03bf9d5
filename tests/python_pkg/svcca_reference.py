"""google/svcca's cca_core.get_cca_similarity and pwcca.compute_pwcca, as
the reference code computes them (Apache 2.0, github.com/google/svcca),
transcribed here for the tests of simrep.compat: the repository cannot be
fetched on the test machine.  Logic and order of operations follow the
reference; the progress prints are left out and the zero-dictionary branch
(every neuron dead) is kept.  Only what the tests call is here.

Known defects of the reference kept on purpose (simrep.compat fixes them and
the tests check that it does): compute_pwcca's second branch indexes acts1
with acts2's mask (IndexError when acts1 keeps more neurons), and with
epsilon = 0 a constant neuron can give NaN.
"""

import numpy as np


def positivedef_matrix_sqrt(array):
    w, v = np.linalg.eigh(array)
    wsqrt = np.sqrt(w)
    return np.dot(v, np.dot(np.diag(wsqrt), np.conj(v).T))


def remove_small(sigma_xx, sigma_xy, sigma_yx, sigma_yy, epsilon):
    x_diag = np.abs(np.diagonal(sigma_xx))
    y_diag = np.abs(np.diagonal(sigma_yy))
    x_idxs = (x_diag >= epsilon)
    y_idxs = (y_diag >= epsilon)
    sigma_xx_crop = sigma_xx[x_idxs][:, x_idxs]
    sigma_xy_crop = sigma_xy[x_idxs][:, y_idxs]
    sigma_yx_crop = sigma_yx[y_idxs][:, x_idxs]
    sigma_yy_crop = sigma_yy[y_idxs][:, y_idxs]
    return sigma_xx_crop, sigma_xy_crop, sigma_yx_crop, sigma_yy_crop, x_idxs, y_idxs


def compute_ccas(sigma_xx, sigma_xy, sigma_yx, sigma_yy, epsilon):
    (sigma_xx, sigma_xy, sigma_yx, sigma_yy, x_idxs, y_idxs) = remove_small(
        sigma_xx, sigma_xy, sigma_yx, sigma_yy, epsilon)
    numx = sigma_xx.shape[0]
    numy = sigma_yy.shape[0]
    if numx == 0 or numy == 0:
        return ([0, 0, 0], [0, 0, 0], np.zeros_like(sigma_xx), np.zeros_like(sigma_yy), x_idxs, y_idxs)
    sigma_xx += epsilon * np.eye(numx)
    sigma_yy += epsilon * np.eye(numy)
    inv_xx = np.linalg.pinv(sigma_xx)
    inv_yy = np.linalg.pinv(sigma_yy)
    invsqrt_xx = positivedef_matrix_sqrt(inv_xx)
    invsqrt_yy = positivedef_matrix_sqrt(inv_yy)
    arr = np.dot(invsqrt_xx, np.dot(sigma_xy, invsqrt_yy))
    u, s, v = np.linalg.svd(arr)
    return [u, np.abs(s), v], invsqrt_xx, invsqrt_yy, x_idxs, y_idxs


def sum_threshold(array, threshold):
    assert (threshold >= 0) and (threshold <= 1), "print incorrect threshold"
    for i in range(len(array)):
        if np.sum(array[:i]) / np.sum(array) >= threshold:
            return i


def get_cca_similarity(acts1, acts2, epsilon=0., threshold=0.98, compute_coefs=True, compute_dirns=False):
    assert acts1.shape[1] == acts2.shape[1], "dimensions don't match"
    assert acts1.shape[0] < acts1.shape[1], "input must be number of neurons by datapoints"
    return_dict = {}
    numx = acts1.shape[0]
    numy = acts2.shape[0]
    covariance = np.cov(acts1, acts2)
    sigmaxx = covariance[:numx, :numx]
    sigmaxy = covariance[:numx, numx:]
    sigmayx = covariance[numx:, :numx]
    sigmayy = covariance[numx:, numx:]
    xmax = np.max(np.abs(sigmaxx))
    ymax = np.max(np.abs(sigmayy))
    sigmaxx /= xmax
    sigmayy /= ymax
    sigmaxy /= np.sqrt(xmax * ymax)
    sigmayx /= np.sqrt(xmax * ymax)
    ([u, s, v], invsqrt_xx, invsqrt_yy, x_idxs, y_idxs) = compute_ccas(
        sigmaxx, sigmaxy, sigmayx, sigmayy, epsilon=epsilon)
    if (not np.any(x_idxs)) or (not np.any(y_idxs)):
        return None  # the reference's create_zero_dict
    if compute_coefs:
        x_mask = np.dot(x_idxs.reshape((-1, 1)), x_idxs.reshape((1, -1)))
        y_mask = np.dot(y_idxs.reshape((-1, 1)), y_idxs.reshape((1, -1)))
        return_dict["coef_x"] = u.T
        return_dict["invsqrt_xx"] = invsqrt_xx
        return_dict["full_coef_x"] = np.zeros((numx, numx))
        np.place(return_dict["full_coef_x"], x_mask, return_dict["coef_x"])
        return_dict["full_invsqrt_xx"] = np.zeros((numx, numx))
        np.place(return_dict["full_invsqrt_xx"], x_mask, return_dict["invsqrt_xx"])
        return_dict["coef_y"] = v
        return_dict["invsqrt_yy"] = invsqrt_yy
        return_dict["full_coef_y"] = np.zeros((numy, numy))
        np.place(return_dict["full_coef_y"], y_mask, return_dict["coef_y"])
        return_dict["full_invsqrt_yy"] = np.zeros((numy, numy))
        np.place(return_dict["full_invsqrt_yy"], y_mask, return_dict["invsqrt_yy"])
        neuron_means1 = np.mean(acts1, axis=1, keepdims=True)
        neuron_means2 = np.mean(acts2, axis=1, keepdims=True)
        return_dict["neuron_means1"] = neuron_means1
        return_dict["neuron_means2"] = neuron_means2
    if compute_dirns:
        cca_dirns1 = np.dot(np.dot(return_dict["full_coef_x"], return_dict["full_invsqrt_xx"]),
                            (acts1 - neuron_means1)) + neuron_means1
        cca_dirns2 = np.dot(np.dot(return_dict["full_coef_y"], return_dict["full_invsqrt_yy"]),
                            (acts2 - neuron_means2)) + neuron_means2
    idx1 = sum_threshold(s, threshold)
    idx2 = sum_threshold(s, threshold)
    return_dict["cca_coef1"] = s
    return_dict["cca_coef2"] = s
    return_dict["x_idxs"] = x_idxs
    return_dict["y_idxs"] = y_idxs
    return_dict["mean"] = (np.mean(s[:idx1]), np.mean(s[:idx2]))
    return_dict["sum"] = (np.sum(s), np.sum(s))
    if compute_dirns:
        return_dict["cca_dirns1"] = cca_dirns1
        return_dict["cca_dirns2"] = cca_dirns2
    return return_dict


def compute_pwcca(acts1, acts2, epsilon=0.):
    sresults = get_cca_similarity(acts1, acts2, epsilon=epsilon, compute_dirns=False, compute_coefs=True)
    if np.sum(sresults["x_idxs"]) <= np.sum(sresults["y_idxs"]):
        dirns = np.dot(sresults["coef_x"],
                       (acts1[sresults["x_idxs"]] - sresults["neuron_means1"][sresults["x_idxs"]])) + \
            sresults["neuron_means1"][sresults["x_idxs"]]
        coefs = sresults["cca_coef1"]
        acts = acts1
        idxs = sresults["x_idxs"]
    else:
        dirns = np.dot(sresults["coef_y"],
                       (acts1[sresults["y_idxs"]] - sresults["neuron_means2"][sresults["y_idxs"]])) + \
            sresults["neuron_means2"][sresults["y_idxs"]]
        coefs = sresults["cca_coef2"]
        acts = acts2
        idxs = sresults["y_idxs"]
    P, _ = np.linalg.qr(dirns.T)
    weights = np.sum(np.abs(np.dot(P.T, acts[idxs].T)), axis=1)
    weights = weights / np.sum(weights)
    return np.sum(weights * coefs), weights, coefs
