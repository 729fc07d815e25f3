"""Gaps in PyTensor 3.0.7's Numba and JAX backends that rbm patches, each with the measurement behind it.

Only :mod:`rbm.backend` imports this module and applies the patches: the
rewrite when it is imported, the Numba and JAX ones just before PyTensor
builds its first function of that backend (so that ``import rbm`` imports
neither Numba nor JAX), so PyTensor is still configured in one place.
"""
import numpy as np
import pytensor.tensor as pt

__all__ = ["numba_transpose_as_view", "numba_sigmoid_in_input_precision", "static_slice_length",
           "register_static_length_slices", "fix_jax_dispatch"]


def numba_transpose_as_view():
    """Make PyTensor's Numba backend transpose a matrix as ``x.T`` instead of ``as_strided``.

    Why: Numba types an ``as_strided`` result as layout "A" (unknown), and its
    ``np.dot`` copies every "A" operand before calling BLAS. ``x.T`` of a
    C-ordered matrix is typed "F", which BLAS takes as is. For the Gibbs step
    ``h W^T`` that copy of the whole weight matrix on every step made a PCD-15
    minibatch ~1.5x slower (measured by benchmarks/bench_epoch.py). Only the
    2-D transpose changes; every other DimShuffle keeps PyTensor's code.
    """
    try:
        from pytensor.link.numba.dispatch.basic import (
            numba_funcify_default_op_cache_key,
            numba_njit,
            register_funcify_default_op_cache_key,
        )
        from pytensor.tensor.elemwise import DimShuffle
    except ImportError:  # a PyTensor without this dispatch layout: keep its own code
        return
    pytensor_dimshuffle = numba_funcify_default_op_cache_key.dispatch(DimShuffle)

    @register_funcify_default_op_cache_key(DimShuffle)
    def numba_funcify_dimshuffle(op, node, **kwargs):
        if op.input_ndim == 2 and tuple(op.new_order) == (1, 0):
            @numba_njit
            def transpose(x):
                return x.T

            return transpose, 7001  # a cache version distinct from PyTensor's own
        return pytensor_dimshuffle(op, node, **kwargs)


def numba_sigmoid_in_input_precision():
    """Compute a float32 sigmoid in float32 in PyTensor's Numba backend.

    Why: PyTensor writes it as ``1 / (1 + exp(-x))`` with integer ones, which
    Numba evaluates in float64 and casts back; the Gibbs sampler evaluates a
    sigmoid for every unit on every step, and the float32 version measured
    ~15% faster per element (benchmarks/bench_epoch.py). float64 is unchanged.
    """
    try:
        from pytensor.link.numba.dispatch.basic import numba_funcify_and_cache_key, numba_njit, register_funcify_and_cache_key
        from pytensor.link.numba.dispatch.scalar import scalar_op_cache_key
        from pytensor.scalar.math import Sigmoid
    except ImportError:
        return
    pytensor_sigmoid = numba_funcify_and_cache_key.dispatch(Sigmoid)

    @register_funcify_and_cache_key(Sigmoid)
    def numba_funcify_sigmoid(op, node, **kwargs):
        dtype = np.dtype(node.inputs[0].type.dtype)
        if dtype.kind != "f":  # integer inputs: keep PyTensor's own upcasting code
            return pytensor_sigmoid(op, node, **kwargs)
        one = dtype.type(1.0)

        @numba_njit
        def sigmoid(x):
            return one / (one + np.exp(-x))

        return sigmoid, scalar_op_cache_key(op, cache_version=7001)


def _integer_linear_form(variable, known=None):
    """``variable`` as ({leaf: coefficient}, constant) over integer-linear arithmetic, or None.

    Follows +, -, negation, multiplication by constants, integer casts and
    the scalar/tensor conversions PyTensor puts around slice bounds, also
    inside fused ``Composite`` ops; anything else is a leaf. ``known`` maps
    the inner inputs of a ``Composite`` to their forms.
    """
    from pytensor.graph.basic import Constant
    from pytensor.scalar import basic as ps
    from pytensor.tensor.basic import ScalarFromTensor, TensorFromScalar
    from pytensor.tensor.elemwise import Elemwise

    if isinstance(variable, (int, np.integer)):
        return {}, int(variable)
    if known is not None and variable in known:
        return known[variable]
    if isinstance(variable, Constant):
        value = np.asarray(variable.data)
        if value.ndim == 0 and value.dtype.kind in "iu":
            return {}, int(value)
        return None
    leaf = ({variable: 1}, 0)
    node = variable.owner
    if node is None:
        return leaf
    if isinstance(node.op, (ScalarFromTensor, TensorFromScalar)):
        return _integer_linear_form(node.inputs[0], known) or leaf
    scalar_op = node.op.scalar_op if isinstance(node.op, Elemwise) else node.op
    forms = [_integer_linear_form(i, known) for i in node.inputs]
    if any(form is None for form in forms):
        return leaf

    def scaled(form, factor):
        return {k: factor * c for k, c in form[0].items()}, factor * form[1]

    def added(a, b):
        coefficients = dict(a[0])
        for k, c in b[0].items():
            coefficients[k] = coefficients.get(k, 0) + c
        return coefficients, a[1] + b[1]

    if isinstance(scalar_op, ps.Composite):
        inner = dict(zip(scalar_op.fgraph.inputs, forms))
        inner_output = scalar_op.fgraph.outputs[node.outputs.index(variable)]
        return _integer_linear_form(inner_output, inner) or leaf
    if isinstance(scalar_op, ps.Add):
        result = ({}, 0)
        for form in forms:
            result = added(result, form)
        return result
    if isinstance(scalar_op, ps.Sub):
        return added(forms[0], scaled(forms[1], -1))
    if isinstance(scalar_op, ps.Neg):
        return scaled(forms[0], -1)
    if isinstance(scalar_op, ps.Mul):
        symbolic = [form for form in forms if form[0]]
        if len(symbolic) > 1:
            return leaf
        factor = int(np.prod([form[1] for form in forms if not form[0]]))
        return scaled(symbolic[0], factor) if symbolic else ({}, factor)
    if isinstance(scalar_op, (ps.Cast, ps.Identity)) and variable.dtype.startswith(("int", "uint")):
        return forms[0]
    return leaf


def static_slice_length(entry):
    """The length of the symbolic slice ``entry`` when stop - start is a known constant, else None.

    Only for slices with a symbolic bound, no step (or step 1) and both
    bounds given, e.g. the tutorial's ``x[index * batch_size:(index + 1) * batch_size]``.
    JAX needs such lengths when it compiles; rbm's JAX modes use this to run
    the tutorial's ``givens`` slices.

    Parameters
    ----------
    entry : slice
        A slice whose bounds are integer expressions (symbolic or constant).

    Returns
    -------
    int or None
        stop - start when it is the same constant for every value of the
        symbolic inputs (0 when negative), else None.

    Examples
    --------
    >>> from rbm.backend import pt, static_slice_length
    >>> index = pt.lscalar("index")
    >>> static_slice_length(slice(index * 20, (index + 1) * 20))
    20
    >>> static_slice_length(slice(index, 2 * index)) is None  # depends on index
    True
    """
    from pytensor.graph.basic import Constant

    if not isinstance(entry, slice) or entry.start is None or entry.stop is None:
        return None
    if isinstance(entry.start, Constant) and isinstance(entry.stop, Constant):
        return None
    if entry.step is not None and _integer_linear_form(entry.step) != ({}, 1):
        return None
    start, stop = _integer_linear_form(entry.start), _integer_linear_form(entry.stop)
    if start is None or stop is None:
        return None
    leaves = set(start[0]) | set(stop[0])
    if any(stop[0].get(leaf, 0) != start[0].get(leaf, 0) for leaf in leaves):
        return None
    return max(stop[1] - start[1], 0)


def register_static_length_slices():
    """Give JAX graphs the static length of slices such as ``data[index * 20:(index + 1) * 20]``.

    Why: JAX compiles shapes as constants. A slice with symbolic bounds has an
    unknown length in PyTensor's type, so everything shaped after it (the
    random draws of a Gibbs step on the minibatch) fails to compile under
    JAX. This rewrite, in JAX modes only, wraps such a slice in
    ``specify_shape`` with the length that :func:`static_slice_length` proves.
    """
    from pytensor.compile.mode import optdb
    from pytensor.graph.rewriting.basic import in2out, node_rewriter
    from pytensor.tensor.shape import SpecifyShape
    from pytensor.tensor.subtensor import Subtensor, indices_from_subtensor

    @node_rewriter([Subtensor])
    def static_length_slices(fgraph, node):
        output = node.outputs[0]
        if type(node.op) is not Subtensor or any(
                isinstance(client.op, SpecifyShape) for client, _ in fgraph.clients[output]):
            return None
        entries = indices_from_subtensor(node.inputs[1:], node.op.idx_list)
        slice_lengths = [static_slice_length(entry) for entry in entries if isinstance(entry, slice)]
        kept_axes = len(slice_lengths)  # integer entries drop their axis
        shape = [length if length is not None else static
                 for length, static in zip(slice_lengths, output.type.shape[:kept_axes])]
        shape += list(output.type.shape[kept_axes:])
        if tuple(shape) == output.type.shape:
            return None
        return [pt.specify_shape(output, shape)]

    optdb.register("rbm_static_length_slices", in2out(static_length_slices), "jax", position=0.05)  # before ShapeOpt (0.1)


_jax_fixed = False


def fix_jax_dispatch():
    """Patch two gaps in PyTensor 3.0.7's JAX backend; called before compiling a JAX function.

    1. Reductions return their declared dtype. PyTensor's JAX code for
       ``Sum`` / ``Mean`` returns the accumulator's dtype (float64 for float32
       inputs), so a float32 model trained under JAX silently turned W and
       hbias into float64 arrays after its first update (and a ``scan``
       carrying them fails to compile).
    2. Slices with symbolic bounds but a constant length, the tutorial's
       ``givens={x: data[index * batch_size:(index + 1) * batch_size]}``, run
       as a gather of that many rows: JAX needs slice sizes known when it
       compiles and refused them. Where numpy would return fewer rows (bounds
       past the end), the missing rows read as NaN (the fill of ``jnp.take``;
       the largest negative value for integers), never as other rows.
    JAX stays optional: nothing is imported until a JAX function is built.
    """
    global _jax_fixed
    if _jax_fixed:
        return
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce
    from pytensor.tensor.subtensor import Subtensor, indices_from_subtensor

    pytensor_careduce = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def jax_funcify_careduce(op, node=None, **kwargs):
        reduce = pytensor_careduce(op, node=node, **kwargs)
        if node is None:
            return reduce
        dtype = node.outputs[0].type.dtype

        def reduce_in_output_dtype(x):
            return reduce(x).astype(dtype)

        return reduce_in_output_dtype

    pytensor_subtensor = jax_funcify.dispatch(Subtensor)

    @jax_funcify.register(Subtensor)
    def jax_funcify_subtensor(op, node=None, **kwargs):
        plain = pytensor_subtensor(op, node=node, **kwargs)
        if node is None or type(op) is not Subtensor:
            return plain
        lengths = [static_slice_length(entry) for entry in indices_from_subtensor(node.inputs[1:], op.idx_list)]
        if all(length is None for length in lengths):
            return plain
        import jax.numpy as jnp

        def subtensor_of_static_length(x, *index_inputs):
            indices = list(indices_from_subtensor(index_inputs, op.idx_list))
            for axis, length in enumerate(lengths):
                if length is not None:
                    size = x.shape[axis]
                    # numpy's reading of negative bounds, then its rows; missing rows point past the end
                    start, stop = (jnp.where(bound < 0, bound + size, bound)
                                   for bound in (indices[axis].start, indices[axis].stop))
                    rows = start + jnp.arange(length)
                    rows = jnp.where((rows >= 0) & (rows < jnp.minimum(stop, size)), rows, size)
                    x = jnp.take(x, rows, axis=axis, mode="fill")
                    indices[axis] = slice(None)
            return x[tuple(indices)]

        return subtensor_of_static_length

    _jax_fixed = True
