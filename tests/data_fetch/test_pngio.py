"""The small PNG writer: standard files that decode to exactly the array written."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from data_fetch.pngio import mask_png, plain_png
from data_fetch.scenes import render_scene


@pytest.mark.parametrize("size", [(37, 23), (128, 96)])
@pytest.mark.parametrize("up_filter", [False, True])
def test_plain_png_round_trip(size: tuple[int, int], up_filter: bool) -> None:
    image, ids = render_scene(9, 1, *size)
    for array in (image, ids):
        data = plain_png(array, up_filter=up_filter)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), array)
        assert plain_png(array, up_filter=up_filter) == data  # deterministic


def test_mask_png_has_the_id_in_red_only() -> None:
    ids = np.arange(13, dtype=np.uint8).repeat(4).reshape(4, 13)
    decoded = np.asarray(Image.open(io.BytesIO(mask_png(ids))))
    assert decoded.shape == (4, 13, 3)
    np.testing.assert_array_equal(decoded[..., 0], ids)
    assert not decoded[..., 1:].any()
