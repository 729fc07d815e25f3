"""Pictures of filters and samples: tile many small images into one PNG."""
import os

import numpy as np
from PIL import Image

from .validation import check_array, check_positive_int

__all__ = ["tile_raster_images", "save_image", "plot_curves"]


def _scale_to_unit_interval(rows, eps=1e-8):
    """Each row shifted and scaled to [0, 1] (a constant row becomes zeros)."""
    rows = rows - rows.min(axis=1, keepdims=True)
    return rows / (rows.max(axis=1, keepdims=True) + eps)


def tile_raster_images(X, img_shape, tile_shape, tile_spacing=(1, 1),
                       scale_rows_to_unit_interval=True):
    """Lay the rows of ``X`` out as a grid of ``img_shape`` images, like the tutorial's helper.

    ``X`` is (n_images, height * width); ``tile_shape`` is (rows, columns) of
    the grid, filled row by row, with empty tiles left black. Returns a uint8
    array of shape ((h + s0) * rows - s0, (w + s1) * columns - s1).
    For filters pass ``W.T`` so that each hidden unit's weights form a row.
    """
    height, width = (check_positive_int(n, "img_shape entry") for n in img_shape)
    n_rows, n_cols = (check_positive_int(n, "tile_shape entry") for n in tile_shape)
    space_h, space_w = (check_positive_int(n, "tile_spacing entry", minimum=0) for n in tile_spacing)
    X = check_array(X, "X", ndim=2).astype(np.float64)
    if X.shape[1] != height * width:
        raise ValueError(f"X rows have {X.shape[1]} values, but img_shape {img_shape} needs {height * width}")
    if not scale_rows_to_unit_interval and (X.min(initial=0) < 0 or X.max(initial=0) > 1):
        raise ValueError("X must hold values in [0, 1] when scale_rows_to_unit_interval is False")
    X = X[: n_rows * n_cols]
    if scale_rows_to_unit_interval and len(X):
        X = _scale_to_unit_interval(X)
    out = np.zeros(((height + space_h) * n_rows - space_h, (width + space_w) * n_cols - space_w))
    for index, row in enumerate(X):
        r, c = divmod(index, n_cols)
        top, left = r * (height + space_h), c * (width + space_w)
        out[top:top + height, left:left + width] = row.reshape(height, width)
    return np.round(out * 255).astype(np.uint8)


def save_image(array, path, scale=1):
    """Save a 2-D uint8 array (e.g. from :func:`tile_raster_images`) as a PNG, atomically.

    ``scale`` enlarges each pixel to scale x scale (for small patches).
    """
    scale = check_positive_int(scale, "scale")
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype != np.uint8:
        raise ValueError(f"save_image needs a 2-D uint8 array, got {array.ndim}-D {array.dtype}")
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"images are saved as PNG: the path must end in .png, got {path!r}")
    temporary = path + ".tmp"
    try:
        image = Image.fromarray(array, mode="L")
        if scale > 1:
            image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
        image.save(temporary, format="PNG")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def plot_curves(path, curves, xlabel="epoch", title=None):
    """Write a PNG of one panel per curve: ``curves`` maps a label to (x values, y values).

    matplotlib draws it off screen (its Agg backend); the file is written to
    a temporary name and renamed, so a failure leaves no half-written PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    if not curves:
        raise ValueError("curves is empty: nothing to plot")
    path = os.fspath(path)
    figure, axes = pyplot.subplots(len(curves), 1, figsize=(6, 2.4 * len(curves)), squeeze=False, sharex=True)
    for axis, (label, (x, y)) in zip(axes[:, 0], curves.items()):
        x, y = np.asarray(x), np.asarray(y)
        axis.plot(x, y, marker="o" if len(x) <= 60 else None, markersize=3)  # markers only where they stay apart
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(xlabel)
    if title:
        axes[0, 0].set_title(title)
    figure.tight_layout()
    temporary = os.path.join(os.path.dirname(os.path.abspath(path)), f".tmp-{os.path.basename(path)}")
    try:
        figure.savefig(temporary, format="png", dpi=100)
        os.replace(temporary, path)
    finally:
        pyplot.close(figure)
        if os.path.exists(temporary):
            os.unlink(temporary)
