// module.cpp — the `bnlab._core` extension module: registers the bindings of tensors, ops and the nn layer.
#include "convert.hpp"
#include "core/profile.hpp"
#include "ops/cpu_settings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "bnlab's C++ engine: tensors, ops (forward/backward pairs), layers, optimizers and the training loop.";
  bnlab::bind::bind_tensor(m);
  bnlab::bind::bind_ops(m);
  bnlab::bind::bind_conv(m);
  bnlab::bind::bind_nn(m);
  bnlab::bind::bind_tensor_ops(m);
  m.def("set_num_threads", &bnlab::ops::set_num_threads, pybind11::arg("n"),
        "Threads of the CPU engine (OpenBLAS and the worker pool).");
  m.def("get_num_threads", &bnlab::ops::get_num_threads);
  m.def("flush_denormals_supported", &bnlab::flush_denormals_supported);
  m.def("set_flush_denormals", &bnlab::set_flush_denormals, pybind11::arg("on"),
        "Flush denormal floats to zero in engine work (on by default); returns the previous setting.");
  m.def("flush_denormals", &bnlab::flush_denormals);
  m.def("profile_set_enabled", &bnlab::profile::set_enabled, pybind11::arg("on"));
  m.def("profile_enabled", &bnlab::profile::enabled);
  m.def("profile_reset", &bnlab::profile::reset);
  m.def("profile_snapshot", [] {
    pybind11::list out;
    for (const bnlab::profile::Entry& e : bnlab::profile::snapshot())
      out.append(pybind11::dict(pybind11::arg("phase") = e.phase, pybind11::arg("m") = e.m, pybind11::arg("n") = e.n,
                                pybind11::arg("k") = e.k, pybind11::arg("trans_a") = std::string(1, e.trans_a),
                                pybind11::arg("trans_b") = std::string(1, e.trans_b), pybind11::arg("calls") = e.calls,
                                pybind11::arg("seconds") = e.seconds, pybind11::arg("flops") = e.flops,
                                pybind11::arg("bytes") = e.bytes));
    return out;
  });
#ifdef BNLAB_WITH_CUDA
  m.attr("built_with_cuda") = true;
#else
  m.attr("built_with_cuda") = false;
#endif
}
