// bind_conv.cpp — the 2-D window ops (cpp/ops/conv.hpp, pool.hpp) as functions of `_core.ops`. Type conversion
// only; errors are ValueError; the GIL is released around the engine's work. Python signatures (outputs first;
// `stride` is (sh, sw), `padding` is (top, bottom, left, right), `kernel_size` is (kh, kw)):
//
//   conv2d_forward(out, cache: ConvCache, inp, weight, bias | None, stride, padding, channels_last)
//       channels_last: inp (N, H, W, C), weight (KH, KW, C, K) -> out (N, OH, OW, K)   (Keras)
//       otherwise:     inp (N, C, H, W), weight (K, C, KH, KW) -> out (N, K, OH, OW)   (PyTorch)
//   conv2d_backward(dinp | None, dweight, dbias | None, dout, cache, weight, accumulate=True)
//       dinp assigned; dweight, dbias accumulate unless accumulate=False (then assigned).
//   max_pool2d_forward(out, cache: PoolCache, inp, kernel_size, stride, padding, channels_last)
//   max_pool2d_backward(dinp, dout, cache)                       cache.argmax: winners, ih*W + iw per plane
//   avg_pool2d_forward(out, cache, inp, kernel_size, stride, padding, channels_last, count_include_pad)
//   avg_pool2d_backward(dinp, dout, cache)
//   global_avg_pool2d_forward(out, cache, inp, channels_last)    out (N, C)
//   global_avg_pool2d_backward(dinp, dout, cache)
//   conv_gemm_tally() -> (seconds, flops, calls); reset_conv_gemm_tally()
//       the CPU convolutions' GEMM time and work since the last reset (benchmarks).
//   set_narrow_gemm(on) -> previous; narrow_gemm_available() -> bool; narrow_gemm_matrix_columns() -> int
//       switches the channels-last convolutions between the backend's narrow GEMM and cblas_sgemm (tests).
#include <pybind11/stl.h>

#include <array>

#include "convert.hpp"
#include "ops/cpu_settings.hpp"
#include "ops/pool.hpp"

namespace bnlab::bind {

namespace {
ops::Window2d window(const std::array<std::int64_t, 2>& stride, const std::array<std::int64_t, 4>& padding,
                     bool channels_last) {
  return {stride[0], stride[1], padding[0], padding[1], padding[2], padding[3], channels_last};
}
}  // namespace

void bind_conv(py::module_& root) {
  py::module_ m = root.attr("ops").cast<py::module_>();
  using py::arg;
  using Pair = std::array<std::int64_t, 2>;
  using Quad = std::array<std::int64_t, 4>;
  const auto nogil = EngineCall();

  py::class_<ops::ConvCache>(m, "ConvCache")
      .def(py::init<>())
      .def_readonly("cols", &ops::ConvCache::cols)
      .def_property_readonly("output_hw",
                             [](const ops::ConvCache& c) { return py::make_tuple(c.shape.OH, c.shape.OW); });
  py::class_<ops::PoolCache>(m, "PoolCache")
      .def(py::init<>())
      .def_readonly("argmax", &ops::PoolCache::argmax)
      .def_property_readonly("output_hw",
                             [](const ops::PoolCache& c) { return py::make_tuple(c.shape.OH, c.shape.OW); });

  m.def(
      "conv2d_forward",
      [](Tensor& out, ops::ConvCache& cache, const Tensor& inp, const Tensor& weight, const Tensor* bias, Pair stride,
         Quad padding, bool channels_last) {
        ops::conv2d_forward(out, cache, inp, weight, bias, window(stride, padding, channels_last));
      },
      arg("out"), arg("cache"), arg("inp"), arg("weight"), arg("bias").none(true), arg("stride"), arg("padding"),
      arg("channels_last"), nogil);
  m.def("conv2d_backward", &ops::conv2d_backward, arg("dinp").none(true), arg("dweight"), arg("dbias").none(true),
        arg("dout"), arg("cache"), arg("weight"), arg("accumulate") = true, nogil);
  m.def(
      "max_pool2d_forward",
      [](Tensor& out, ops::PoolCache& cache, const Tensor& inp, Pair kernel_size, Pair stride, Quad padding,
         bool channels_last) {
        ops::max_pool2d_forward(out, cache, inp, kernel_size[0], kernel_size[1],
                                window(stride, padding, channels_last));
      },
      arg("out"), arg("cache"), arg("inp"), arg("kernel_size"), arg("stride"), arg("padding"), arg("channels_last"),
      nogil);
  m.def("max_pool2d_backward", &ops::max_pool2d_backward, arg("dinp"), arg("dout"), arg("cache"), nogil);
  m.def(
      "avg_pool2d_forward",
      [](Tensor& out, ops::PoolCache& cache, const Tensor& inp, Pair kernel_size, Pair stride, Quad padding,
         bool channels_last, bool count_include_pad) {
        ops::avg_pool2d_forward(out, cache, inp, kernel_size[0], kernel_size[1], window(stride, padding, channels_last),
                                count_include_pad);
      },
      arg("out"), arg("cache"), arg("inp"), arg("kernel_size"), arg("stride"), arg("padding"), arg("channels_last"),
      arg("count_include_pad"), nogil);
  m.def("avg_pool2d_backward", &ops::avg_pool2d_backward, arg("dinp"), arg("dout"), arg("cache"), nogil);
  m.def("global_avg_pool2d_forward", &ops::global_avg_pool2d_forward, arg("out"), arg("cache"), arg("inp"),
        arg("channels_last"), nogil);
  m.def("global_avg_pool2d_backward", &ops::global_avg_pool2d_backward, arg("dinp"), arg("dout"), arg("cache"), nogil);
  m.def("conv_gemm_tally", [] {
    const ops::GemmTally t = ops::conv_gemm_tally();
    return py::make_tuple(t.seconds, t.flops, t.calls);
  });
  m.def("reset_conv_gemm_tally", &ops::reset_conv_gemm_tally);
  ops::check_gemm_env();  // an unknown BNLAB_GEMM fails the import (ImportError with the variable's name)
  m.def("set_narrow_gemm", &ops::set_narrow_gemm, arg("on"));
  m.def("narrow_gemm_available", &ops::narrow_gemm_available);
  m.def("narrow_gemm_matrix_columns", &ops::narrow_gemm_matrix_columns);
}

}  // namespace bnlab::bind
