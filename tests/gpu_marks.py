"""The marks of every test module that needs a GPU: ``pytestmark = REQUIRES_CUDA``.

Such tests carry the ``gpu`` marker (``pytest -m gpu`` selects them) and skip themselves unless bnlab was
built with its CUDA backend and that backend found a device.
"""

import pytest

from bnlab import _core

REQUIRES_CUDA = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not (_core.built_with_cuda and _core.backend_available(_core.Device.CUDA)),
        reason="needs bnlab built with CUDA (BNLAB_CUDA=ON) and a CUDA device",
    ),
]
