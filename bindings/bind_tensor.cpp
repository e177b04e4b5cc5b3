// bind_tensor.cpp — the Tensor class and the NumPy conversions.
#include <pybind11/stl.h>

#include <stdexcept>

#include "backend/backend.hpp"
#include "convert.hpp"

namespace bnlab::bind {

py::array to_numpy(const Tensor& t) {
  if (!t.defined()) return py::array_t<float>(std::vector<py::ssize_t>{0});
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  const py::dtype dt = t.dtype() == DType::F32 ? py::dtype::of<float>() : py::dtype::of<std::int32_t>();
  if (t.device() != Device::CPU) {
    py::array out(dt, shape);
    t.copy_to_host(out.mutable_data());
    return out;
  }
  // The capsule owns a reference to the storage, so the array keeps the memory alive.
  auto* keep = new std::shared_ptr<Storage>(t.storage());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(dt, shape, {}, t.raw(), base);
}

namespace {
// The engine's element type of a NumPy array that a tensor can be made from (float32 or int32, C-contiguous).
DType tensor_dtype_of(const py::array& arr) {
  DType dtype;
  if (arr.dtype().is(py::dtype::of<float>()))
    dtype = DType::F32;
  else if (arr.dtype().is(py::dtype::of<std::int32_t>()))
    dtype = DType::I32;
  else
    throw py::type_error("expected a float32 or int32 array, got dtype " + py::str(arr.dtype()).cast<std::string>());
  if (!(arr.flags() & py::array::c_style)) throw std::invalid_argument("expected a C-contiguous array");
  return dtype;
}
}  // namespace

Tensor from_numpy(const py::array& arr, Device device) {
  const DType dtype = tensor_dtype_of(arr);
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  Tensor t(shape, device, dtype);
  t.copy_from_host(arr.data(), static_cast<std::int64_t>(arr.size()));
  return t;
}

// A CPU tensor sharing the array's memory (no copy): the training loop reads x and y in place. The storage holds
// a reference to the array, dropped under the GIL whenever the last tensor using it goes.
Tensor borrow_numpy(const py::array& arr) {
  const DType dtype = tensor_dtype_of(arr);
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  PyObject* ref = arr.ptr();
  Py_INCREF(ref);
  std::shared_ptr<void> owner(ref, [](void* p) {
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
  return Tensor::borrow(const_cast<void*>(arr.data()), shape, dtype, std::move(owner));
}

void bind_tensor(py::module_& m) {
  py::enum_<Device>(m, "Device").value("CPU", Device::CPU).value("CUDA", Device::CUDA);
  py::enum_<DType>(m, "DType").value("F32", DType::F32).value("I32", DType::I32);

  py::class_<Tensor>(m, "Tensor")
      .def(py::init<>())
      .def(py::init([](const Shape& shape, Device device) { return Tensor::zeros(shape, device); }), py::arg("shape"),
           py::arg("device") = Device::CPU)
      .def_static("from_numpy", &from_numpy, py::arg("array"), py::arg("device") = Device::CPU)
      .def_static("borrow_numpy", &borrow_numpy, py::arg("array"))
      .def("numpy", &to_numpy)
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("device", &Tensor::device)
      .def_property_readonly("dtype", &Tensor::dtype)
      .def_property_readonly("defined", &Tensor::defined)
      .def("numel", &Tensor::numel)
      .def("to", &Tensor::to, py::arg("device"))
      .def("fill", &Tensor::fill, py::arg("value"))
      .def("copy_from",
           [](Tensor& t, const py::array& arr) {
             const Tensor src = from_numpy(arr, Device::CPU);
             if (src.shape() != t.shape() || src.dtype() != t.dtype())
               throw std::invalid_argument("copy_from: array shape " + shape_str(src.shape()) +
                                           " does not match the tensor's " + shape_str(t.shape()));
             t.copy_from_host(src.raw(), src.numel());
           })
      .def("__repr__", [](const Tensor& t) {
        return "<_core.Tensor shape=" + shape_str(t.shape()) + " device=" + device_name(t.device()) + ">";
      });

  m.def("backend_available", &backend_available, py::arg("device"));
  m.def("backend_unavailable_reason", &backend_unavailable_reason, py::arg("device"),
        "Why a backend that was built did not register (no driver, no GPU); empty when it did or was not built.");
}

}  // namespace bnlab::bind
