// convert.hpp — type conversions between NumPy arrays and engine tensors; the only logic the bindings hold.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "core/float_mode.hpp"
#include "core/tensor.hpp"

namespace bnlab::bind {
namespace py = pybind11;

// A NumPy array over the tensor's storage: zero-copy (and writable) on the CPU, a copy on other devices.
py::array to_numpy(const Tensor& t);
// A new tensor on `device` holding a copy of a C-contiguous float32 or int32 array.
Tensor from_numpy(const py::array& arr, Device device);

// The guard of an engine call from Python: the GIL released, and this thread in the engine's denormal mode
// (core/float_mode.hpp) until the call returns. EngineRelease is the same as a scope inside a lambda.
using EngineCall = py::call_guard<py::gil_scoped_release, FloatModeScope>;
struct EngineRelease {
  py::gil_scoped_release nogil;
  FloatModeScope float_mode;
};

void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_conv(py::module_& m);
void bind_nn(py::module_& m);
void bind_tensor_ops(py::module_& m);

}  // namespace bnlab::bind
