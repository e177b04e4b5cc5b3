// bind_tensor_ops.cpp — `_core.tensor_ops`: the ops of ops/tensor_ops.hpp (general arithmetic, sums, log-softmax,
// NLL, eval-mode batch-norm backward), the storage helpers (view, empty, copy) and ops::gather_rows (batches
// gathered by host indices) as Python functions over _core.Tensor, for bnlab.torch. Pure type conversion: optional
// tensors are None; the GIL is released.
#include <pybind11/stl.h>

#include "convert.hpp"
#include "ops/ops.hpp"
#include "ops/tensor_ops.hpp"

namespace bnlab::bind {

void bind_tensor_ops(py::module_& root) {
  py::module_ m = root.def_submodule("tensor_ops", "General tensor arithmetic and the extra kernels of bnlab.torch.");
  using py::arg;
  const auto nogil = EngineCall();

  py::enum_<BinaryOp>(m, "BinaryOp")
      .value("Add", BinaryOp::Add)
      .value("Sub", BinaryOp::Sub)
      .value("Mul", BinaryOp::Mul)
      .value("Div", BinaryOp::Div)
      .value("First", BinaryOp::First);
  py::enum_<UnaryOp>(m, "UnaryOp")
      .value("Neg", UnaryOp::Neg)
      .value("Exp", UnaryOp::Exp)
      .value("Log", UnaryOp::Log)
      .value("Sqrt", UnaryOp::Sqrt)
      .value("Abs", UnaryOp::Abs)
      .value("Sign", UnaryOp::Sign)
      .value("AddScalar", UnaryOp::AddScalar)
      .value("MulScalar", UnaryOp::MulScalar)
      .value("DivScalar", UnaryOp::DivScalar)
      .value("RSubScalar", UnaryOp::RSubScalar)
      .value("RDivScalar", UnaryOp::RDivScalar)
      .value("PowScalar", UnaryOp::PowScalar)
      .value("Sin", UnaryOp::Sin)
      .value("Cos", UnaryOp::Cos)
      .value("Tan", UnaryOp::Tan)
      .value("Sinh", UnaryOp::Sinh)
      .value("Cosh", UnaryOp::Cosh)
      .value("Log2", UnaryOp::Log2)
      .value("Log10", UnaryOp::Log10)
      .value("Log1p", UnaryOp::Log1p)
      .value("Expm1", UnaryOp::Expm1)
      .value("Floor", UnaryOp::Floor)
      .value("Ceil", UnaryOp::Ceil)
      .value("Trunc", UnaryOp::Trunc)
      .value("Round", UnaryOp::Round);

  m.def("broadcast_shape", &ops::broadcast_shape, arg("a"), arg("b"));
  m.def("binary", &ops::binary, arg("out"), arg("a"), arg("b"), arg("op"), nogil);
  m.def("expand", &ops::expand, arg("out"), arg("a"), arg("shape"), nogil);
  m.def("unary", &ops::unary, arg("out"), arg("a"), arg("op"), arg("s") = 0.0f, nogil);
  m.def("sum_to", &ops::sum_to, arg("out"), arg("a"), arg("shape"), nogil);
  m.def("log_softmax_forward", &ops::log_softmax_forward, arg("out"), arg("inp"), nogil);
  m.def("log_softmax_backward", &ops::log_softmax_backward, arg("dinp"), arg("dout"), arg("out"), nogil);
  m.def("nll_forward", &ops::nll_forward, arg("loss_rows"), arg("weight_rows"), arg("logp"), arg("target"),
        arg("weight").none(true), arg("ignore_index"), nogil);
  m.def("nll_backward", &ops::nll_backward, arg("dlogp"), arg("drows").none(true), arg("scale"), arg("logp"),
        arg("target"), arg("weight").none(true), arg("ignore_index"), nogil);
  m.def("batchnorm_backward_eval", &ops::batchnorm_backward_eval, arg("dinp"), arg("dgamma").none(true),
        arg("dbeta").none(true), arg("dout"), arg("inp"), arg("mean"), arg("var"), arg("gamma").none(true), arg("N"),
        arg("C"), arg("L"), arg("eps"), nogil);
  m.def(
      "gather_rows",
      [](Tensor& out, const Tensor& src,
         const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& idx) {
        const std::int64_t* rows = idx.data();
        const auto B = static_cast<std::int64_t>(idx.size());
        EngineRelease release;
        ops::gather_rows(out, src, rows, B);
      },
      arg("out"), arg("src"), arg("idx"));
  m.def("view", &ops::view, arg("src"), arg("shape"));
  m.def("empty", &ops::empty, arg("shape"), arg("device") = Device::CPU, arg("dtype") = DType::F32);
  m.def("copy", &ops::copy, arg("dst"), arg("src"), nogil);
}

}  // namespace bnlab::bind
