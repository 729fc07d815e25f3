"""Pictures of filters and samples: tile many small images into one PNG."""
import os
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from .validation import check_array, check_positive_int

__all__ = ["tile_raster_images", "save_image", "plot_curves"]


def _scale_to_unit_interval(rows, eps=1e-8):
    """Each row shifted and scaled to [0, 1] (a constant row becomes zeros)."""
    rows = rows - rows.min(axis=1, keepdims=True)
    return rows / (rows.max(axis=1, keepdims=True) + eps)


def tile_raster_images(X: ArrayLike, img_shape: tuple[int, int], tile_shape: tuple[int, int],
                       tile_spacing: tuple[int, int] = (1, 1), scale_rows_to_unit_interval: bool = True) -> np.ndarray:
    """Lay the rows of ``X`` out as a grid of ``img_shape`` images, like the tutorial's helper.

    Parameters
    ----------
    X : array (n_images, height * width)
        One image per row. For filters pass ``W.T``, so that each hidden
        unit's weights form a row. Rows past rows x columns are left out.
    img_shape : (int, int)
        (height, width) of each image.
    tile_shape : (int, int)
        (rows, columns) of the grid, filled row by row; empty tiles stay black.
    tile_spacing : (int, int), default (1, 1)
        Black pixels between tiles, vertically and horizontally.
    scale_rows_to_unit_interval : bool, default True
        Stretch each row to [0, 1] first (filters have any range); when
        False, ``X`` must already hold values in [0, 1].

    Returns
    -------
    array of uint8, shape ((h + s0) * rows - s0, (w + s1) * columns - s1)
        The grid as grey levels 0..255, ready for :func:`save_image`.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm.images import tile_raster_images
    >>> filters = np.arange(12.0).reshape(3, 4)  # three 2x2 "images"
    >>> tiles = tile_raster_images(filters, img_shape=(2, 2), tile_shape=(1, 3))
    >>> tiles.shape, tiles.dtype
    ((2, 8), dtype('uint8'))
    >>> tiles[:, :2]  # the first image, stretched to 0..255
    array([[  0,  85],
           [170, 255]], dtype=uint8)
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


def save_image(array: ArrayLike, path: str | os.PathLike[str], scale: int = 1) -> None:
    """Save a 2-D uint8 array (e.g. from :func:`tile_raster_images`) as a PNG, atomically.

    The image is written to a temporary file that is then renamed, so a
    failure leaves no half-written PNG.

    Parameters
    ----------
    array : array of uint8, 2-D
        Grey levels, 0 black and 255 white.
    path : str or path-like
        Where to write; must end in ``.png``.
    scale : int >= 1, default 1
        Enlarges each pixel to scale x scale (for small patches).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from rbm.images import save_image
    >>> folder = tempfile.mkdtemp()
    >>> save_image(np.zeros((28, 28), dtype=np.uint8), os.path.join(folder, "black.png"), scale=2)
    >>> os.listdir(folder)
    ['black.png']
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


def plot_curves(path: str | os.PathLike[str], curves: Mapping[str, tuple[ArrayLike, ArrayLike]], xlabel: str = "epoch",
                title: str | None = None) -> None:
    """Write a PNG of one panel per curve, stacked and sharing the x axis.

    matplotlib (``pip install 'rbm[plots]'``) draws it off screen (its Agg
    backend); the file is written to a temporary name and renamed, so a
    failure leaves no half-written PNG.

    Parameters
    ----------
    path : str or path-like
        The PNG to write.
    curves : dict
        label -> (x values, y values), one panel each, in order.
    xlabel : str, default "epoch"
        The shared x axis's label.
    title : str, optional
        Written above the first panel.
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
