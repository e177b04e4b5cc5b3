"""The backend registry: which devices have a backend, and why a built one did not register.

A CUDA backend that is compiled in but finds no driver or no GPU stays unregistered and keeps the CUDA
runtime's reason; the error for a tensor sent there carries it, so that a user learns what is missing.
"""

import pytest

from bnlab import _core

CPU, CUDA = _core.Device.CPU, _core.Device.CUDA


def test_the_cpu_backend_is_always_there_with_no_reason_against_it():
    assert _core.backend_available(CPU)
    assert _core.backend_unavailable_reason(CPU) == ""


def test_a_registered_or_absent_cuda_backend_and_its_reason_agree():
    reason = _core.backend_unavailable_reason(CUDA)
    if _core.backend_available(CUDA):
        assert reason == ""
    elif not _core.built_with_cuda:
        assert reason == ""  # not built: nothing tried to register
    else:
        assert reason, "a built CUDA backend that did not register must say why"
        assert "GPU" in reason


@pytest.mark.skipif(_core.backend_available(CUDA), reason="a GPU is present: the CUDA backend registered")
def test_moving_a_tensor_to_a_missing_backend_names_the_device_and_the_reason():
    t = _core.Tensor([2], CPU)
    with pytest.raises(RuntimeError, match="no backend for device 'cuda'") as err:
        t.to(CUDA)
    reason = _core.backend_unavailable_reason(CUDA)
    if reason:
        assert reason in str(err.value)
