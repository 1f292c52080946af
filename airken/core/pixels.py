"""Small array routines the scene checks run on their grids (numpy only): 3x3 and k x k box
means, the local gradient, the Laplacian, a flood fill by runs, and the per-pixel max and min
over R, G, B.

They favour whole-array steps over per-pixel Python: each check runs on every request.
"""
from __future__ import annotations

import numpy as np


def max_min(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel max and min over the last axis (R, G, B), plane by plane: the same values as
    a.max(-1) and a.min(-1), which numpy reduces fifty times slower over an axis of 3."""
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)


def box3(x: np.ndarray) -> np.ndarray:
    p = np.pad(x, 1, mode="edge")
    h, w = x.shape
    return sum(p[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


def local_gradient(y: np.ndarray) -> np.ndarray:
    """Largest step to a neighbour, averaged over 3x3: low on sky, high on texture."""
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, 1:] = np.abs(np.diff(y, axis=1))
    gy[1:] = np.abs(np.diff(y, axis=0))
    return box3(np.maximum(gx, gy))


def grow(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Pixels of `allowed` 4-connected to `seed`.

    Flood fill by whole runs: a straight run of allowed pixels touched by the region joins it
    at once, alternating rows and columns until nothing changes. That takes as many rounds as
    the region's paths have turns, not as many as they have pixels.
    """
    m = seed & allowed
    for i in range(2 * allowed.size):
        axis = i % 2
        n = fill_runs(m, allowed) if axis == 0 else fill_runs(m.T, allowed.T).T
        if i > 0 and np.array_equal(n, m):
            break
        m = n
    return m


def fill_runs(m: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Every run (along rows) of `allowed` that holds a pixel of `m`."""
    starts = allowed.copy()
    starts[:, 1:] &= ~allowed[:, :-1]
    run_id = np.cumsum(starts.ravel())  # constant along each run of allowed pixels
    hit = np.zeros(int(run_id[-1]) + 1 if run_id.size else 1, dtype=bool)
    hit[run_id[(m & allowed).ravel()]] = True
    return hit[run_id].reshape(m.shape) & allowed


def laplacian(y: np.ndarray) -> np.ndarray | None:
    """The 4-neighbour Laplacian of the inner pixels (None for an image under 3x3)."""
    if y.shape[0] < 3 or y.shape[1] < 3:
        return None
    return 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]


def box_mean(x: np.ndarray, k: int) -> np.ndarray:
    """k x k box mean (k odd, edges padded) via a summed-area table."""
    r = k // 2
    c = np.pad(np.pad(x, r, mode="edge").cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = x.shape
    return (c[k : k + h, k : k + w] - c[:h, k : k + w] - c[k : k + h, :w] + c[:h, :w]) / (k * k)
