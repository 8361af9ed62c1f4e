"""Iterative solvers of the k-t problem: one sampling operator, one loop, priors as proximal maps.

Torch in, torch out, on the caller's device (CUDA when present). Layers, after sigpy's
``Linop`` / ``Alg`` / ``App`` split:

- :mod:`~napari_dynmri.solvers.operator`: :class:`KtProblem`, the measured data in the solvers'
  layout with the sampling operator ``A = M F`` (forward, adjoint, normal, data consistency);
  Cartesian row masks get their readout transformed once, so every iteration costs 1D FFTs;
- :mod:`~napari_dynmri.solvers.prox`: the proximal maps (soft threshold of the temporal spectrum,
  singular-value threshold of the Casorati matrix) and the temporal transforms;
- :mod:`~napari_dynmri.solvers.algorithms`: x-f FISTA, low-rank plus sparse FISTA and temporal-TV
  ADMM, each a step function over a batch of problems (a leading batch axis: folds, weights);
- :mod:`~napari_dynmri.solvers.loop`: :func:`run`, which owns iterations, progress, cancel and timing.

Import from the submodules (this package's import stays free of torch, so zero filling starts fast).
"""
