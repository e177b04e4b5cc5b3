// module.cpp — the `bnlab._core` extension module: registers the bindings of tensors, ops and the nn layer.
#include "backend/cpu/threads.hpp"
#include "convert.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "bnlab's C++ engine: tensors, ops (forward/backward pairs), layers, optimizers and the training loop.";
  bnlab::bind::bind_tensor(m);
  bnlab::bind::bind_ops(m);
  bnlab::bind::bind_conv(m);
  bnlab::bind::bind_nn(m);
  bnlab::bind::bind_tensor_ops(m);
  m.def("set_num_threads", &bnlab::cpu::set_num_threads, pybind11::arg("n"), "Threads of the CPU GEMM (OpenBLAS).");
  m.def("get_num_threads", &bnlab::cpu::get_num_threads);
#ifdef BNLAB_WITH_CUDA
  m.attr("built_with_cuda") = true;
#else
  m.attr("built_with_cuda") = false;
#endif
}
