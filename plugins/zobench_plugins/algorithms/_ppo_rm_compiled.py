"""PPO-RM's Bradley–Terry Hessian XᵀWX, compiled, in the exact order of the BLAS product.

Why. The Newton fit of the reward model computes ``(X.T * w) @ X`` every step with X the
pairs' feature differences, ``(K, D)`` = 2,000,000 × 100 in the Weibull cell of zpg-gridworld
(1 evaluator, 2M pairs). The fit was 17.4 s of a 20.8 s run (profiled, 7 Newton steps), most
of it that product and the K × D array it needs: 1.45 s per step for the dense GEMM, 0.22 s to
fill XᵀW (3.5 s the first time, for its 1.6 GB of fresh pages). But a row of X has at most 2·H nonzeros (18.5 of 100 on average): most of the
GEMM multiplies zeros.

How, bit for bit. Every run uses one BLAS thread. OpenBLAS's single-threaded GEMM
(``driver/level3/level3.c``) cuts the inner dimension K into blocks of ``GEMM_Q`` rows (a last
stretch between Q and 2Q is halved, rounded up to ``GEMM_UNROLL_M``); within a block its
micro-kernel adds each C element's products in k order with fused multiply-adds into a
register that starts at 0, and adds the block's sum to C, which starts at 0 (β = 0, α = 1).
:func:`bt_hessian` does the same sums in the same order, only without the products whose
factor X[k, i] is 0: adding an exact ±0 to a sum changes at most the sign of a zero, and the
fit adds (ρ + 10⁻⁹)·I (+0 off the diagonal) to the Hessian, which turns any −0 into +0.
The blocks (:func:`~zobench_plugins.algorithms.ppo_rm.gemm_blocks`) are those of the
OpenBLAS in use here (0.3.31, ``SkylakeX`` kernels: Q = 384, unroll 16); the fit checks them
against the BLAS product on a small problem before each use (one spanning full, halved and
ragged blocks) and falls back to the BLAS product when they differ (another BLAS, another
kernel, several threads). Measured on the published Weibull run's X (2M × 100, one BLAS
thread, the other core busy): the BLAS product 1.41–1.46 s a step, :func:`bt_hessian`
0.6–0.8 s (CPU), plus 0.26–0.40 s once per fit for :func:`bt_structure`; identical bits. The
Weibull runs of zpg-gridworld (7 Newton steps) went from 18.8–21.2 s to 10.3–11.8 s of wall
(best of alternating runs on a loaded machine; published 22.7–23.5 s), its Bradley–Terry runs
from 1.8–2.0 s to 1.2 s; every curve column is the published one.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


def _read(dtype: numba.types.Type, ndim: int) -> numba.types.Array:
    """An input array of any layout, writable or not."""
    return numba.types.Array(dtype, ndim, "A", readonly=True)


@intrinsic
def _fma(typingctx, a, b, c):
    """a·b + c rounded once (LLVM's ``llvm.fma``): the BLAS micro-kernel's FMA instruction."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return signature, codegen


_STRUCTURE_SIGNATURE = numba.types.Tuple(
    (numba.int64[:, ::1], numba.int64[:, ::1], numba.int32[::1])
)(
    numba.float64[:, ::1],  # X (K, D)
    _read(numba.int64, 1),  # block bounds (blocks + 1,): 0, ..., K
)


@numba.njit(_STRUCTURE_SIGNATURE, cache=True, nogil=True, boundscheck=False)
def bt_structure(X: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where X is nonzero, block by block: ``rows[start[b, i] : start[b, i] + count[b, i]]``
    are the rows k of block b (in increasing order) with X[k, i] ≠ 0. X is the same in every
    Newton step, so the fit builds this once.

    Each list has one spare slot after it: every row is written to its list's next slot and the
    slot kept only where X[k, i] ≠ 0, with no branch on the 80 % zeros (0.28 s rather than
    0.69 s for the fill at 2M × 100)."""
    D = X.shape[1]
    blocks = bounds.size - 1
    count = np.zeros((blocks, D), np.int64)
    for b in range(blocks):
        for k in range(bounds[b], bounds[b + 1]):
            for d in range(D):
                count[b, d] += X[k, d] != 0.0
    start = np.zeros((blocks, D), np.int64)
    total = 0
    for b in range(blocks):
        for d in range(D):
            start[b, d] = total
            total += count[b, d] + 1  # the spare slot
    rows = np.empty(total, np.int32)
    fill = start.copy()
    for b in range(blocks):
        for k in range(bounds[b], bounds[b + 1]):
            for d in range(D):
                rows[fill[b, d]] = k
                fill[b, d] += X[k, d] != 0.0
    return start, count, rows


@numba.njit(
    numba.void(numba.float64, numba.float64[::1], numba.float64[::1]),
    cache=True,
    nogil=True,
    boundscheck=False,
)
def _add_row(w: float, x: np.ndarray, row: np.ndarray) -> None:
    """row += w·x, one FMA per element (a loop of its own, so LLVM vectorizes it)."""
    for j in range(row.size):
        row[j] = _fma(w, x[j], row[j])  # type: ignore[call-arg]


_HESSIAN_SIGNATURE = numba.void(
    numba.float64[:, ::1],  # X (K, D)
    _read(numba.float64, 1),  # curvature w (K,)
    numba.int64[:, ::1],  # bt_structure's start (blocks, D)
    numba.int64[:, ::1],  # its count (blocks, D)
    numba.int32[::1],  # its rows
    numba.float64[:, ::1],  # XᵀWX (D, D), written
)


@numba.njit(_HESSIAN_SIGNATURE, cache=True, nogil=True, boundscheck=False)
def bt_hessian(
    X: np.ndarray,
    curvature: np.ndarray,
    start: np.ndarray,
    count: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out`` = ``(X.T * curvature) @ X`` as the single-threaded OpenBLAS GEMM sums it.

    Row i of a block's sum adds (X[k, i]·w_k)·X[k, :] over the block's rows k with
    X[k, i] ≠ 0, in k order, by FMA from 0 (the skipped rows add exact zeros); each block's
    sum is then added to ``out``, block after block.
    """
    D = X.shape[1]
    row = np.zeros(D)
    out[:] = 0.0
    for b in range(start.shape[0]):
        for i in range(D):
            row[:] = 0.0
            for p in range(start[b, i], start[b, i] + count[b, i]):
                k = rows[p]
                _add_row(X[k, i] * curvature[k], X[k], row)
            for j in range(D):
                out[i, j] = out[i, j] + row[j]
