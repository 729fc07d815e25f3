"""Tiling filters and samples into one picture and saving it as PNG."""
import numpy as np
import pytest
from PIL import Image

from rbm.images import save_image, tile_raster_images


def test_tiles_are_laid_out_row_by_row_with_spacing():
    X = np.arange(5 * 6, dtype=float).reshape(5, 6) / 29.0  # 5 images of 2x3
    out = tile_raster_images(X, img_shape=(2, 3), tile_shape=(2, 3), tile_spacing=(1, 1),
                             scale_rows_to_unit_interval=False)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2) and out.dtype == np.uint8
    for index in range(5):
        r, c = divmod(index, 3)
        tile = out[r * 3:r * 3 + 2, c * 4:c * 4 + 3]
        np.testing.assert_array_equal(tile, np.round(X[index].reshape(2, 3) * 255))
    assert not out[3:5, 8:11].any()  # the sixth tile is empty
    assert not out[2, :].any() and not out[:, 3].any()  # spacing stays black


def test_rows_are_scaled_to_unit_interval():
    X = np.array([[-2.0, 0.0, 2.0, 6.0]])
    out = tile_raster_images(X, img_shape=(2, 2), tile_shape=(1, 1))
    np.testing.assert_array_equal(out.ravel(), np.round(np.array([0.0, 0.25, 0.5, 1.0]) * 255 * (8 / (8 + 1e-8))))


def test_png_round_trip(tmp_path):
    image = (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4)
    save_image(image, tmp_path / "x.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "x.png")), image)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


@pytest.mark.parametrize("call, match", [
    (lambda: tile_raster_images(np.ones((2, 5)), (2, 2), (1, 2)), "needs 4"),
    (lambda: tile_raster_images(np.ones(4), (2, 2), (1, 1)), "2-D"),
    (lambda: tile_raster_images(np.full((1, 4), np.nan), (2, 2), (1, 1)), "NaN"),
    (lambda: tile_raster_images(np.full((1, 4), 2.0), (2, 2), (1, 1), scale_rows_to_unit_interval=False),
     r"\[0, 1\]"),
    (lambda: tile_raster_images(np.ones((1, 4)), (2, 2), (0, 1)), "tile_shape"),
    (lambda: save_image(np.ones((2, 2)), "x.png"), "uint8"),
    (lambda: save_image(np.ones((2, 2), dtype=np.uint8), "x.jpg"), "PNG"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
