// bind_ops.cpp — the ops as Python functions over _core.Tensor (used by bnlab.torch's autograd and the
// tests). Pure type conversion: optional tensors are None, errors map to ValueError; the GIL is released.
#include <pybind11/stl.h>

#include "convert.hpp"
#include "ops/batchrenorm.hpp"
#include "ops/groupnorm.hpp"
#include "ops/ops.hpp"

namespace bnlab::bind {

void bind_ops(py::module_& root) {
  py::module_ m = root.def_submodule("ops", "Forward/backward op pairs; outputs first, caches explicit.");
  using py::arg;
  const auto nogil = EngineCall();

  py::enum_<Act>(root, "Act")
      .value("Linear", Act::Linear)
      .value("Relu", Act::Relu)
      .value("Sigmoid", Act::Sigmoid)
      .value("Tanh", Act::Tanh)
      .value("Softmax", Act::Softmax);
  py::enum_<XentForm>(root, "XentForm")
      .value("CategoricalProbs", XentForm::CategoricalProbs)
      .value("CategoricalLogits", XentForm::CategoricalLogits)
      .value("SparseProbs", XentForm::SparseProbs)
      .value("SparseLogits", XentForm::SparseLogits);

  py::class_<ops::BNCache>(m, "BNCache")
      .def(py::init<>())
      .def_readonly("xhat", &ops::BNCache::xhat)
      .def_readonly("mean", &ops::BNCache::mean)
      .def_readonly("var", &ops::BNCache::var)
      .def_readonly("rstd", &ops::BNCache::rstd);

  m.def("dense_forward", &ops::dense_forward, arg("out"), arg("inp"), arg("weight"), arg("bias").none(true),
        arg("weight_out_in"), nogil);
  m.def("dense_backward", &ops::dense_backward, arg("dinp").none(true), arg("dweight"), arg("dbias").none(true),
        arg("dout"), arg("inp"), arg("weight"), arg("weight_out_in"), arg("accumulate") = true, nogil);
  m.def(
      "batchnorm_forward_train",
      [](Tensor& out, ops::BNCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta, std::int64_t N,
         std::int64_t C, std::int64_t L, float eps, bool fuse_relu) {
        ops::batchnorm_forward_train(out, cache, inp, gamma, beta, {N, C, L}, eps, fuse_relu);
      },
      arg("out"), arg("cache"), arg("inp"), arg("gamma").none(true), arg("beta").none(true), arg("N"), arg("C"),
      arg("L"), arg("eps"), arg("fuse_relu") = false, nogil);
  m.def(
      "batchnorm_forward_infer",
      [](Tensor& out, const Tensor& inp, const Tensor& mean, const Tensor& var, const Tensor* gamma, const Tensor* beta,
         std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu) {
        ops::batchnorm_forward_infer(out, inp, mean, var, gamma, beta, {N, C, L}, eps, fuse_relu);
      },
      arg("out"), arg("inp"), arg("mean"), arg("var"), arg("gamma").none(true), arg("beta").none(true), arg("N"),
      arg("C"), arg("L"), arg("eps"), arg("fuse_relu") = false, nogil);
  m.def(
      "batchnorm_backward",
      [](Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const ops::BNCache& cache,
         const Tensor* gamma, std::int64_t N, std::int64_t C, std::int64_t L, const Tensor* relu_out) {
        ops::batchnorm_backward(dinp, dgamma, dbeta, dout, cache, gamma, {N, C, L}, relu_out);
      },
      arg("dinp"), arg("dgamma").none(true), arg("dbeta").none(true), arg("dout"), arg("cache"),
      arg("gamma").none(true), arg("N"), arg("C"), arg("L"), arg("relu_out").none(true) = py::none(), nogil);
  py::class_<ops::NormCache>(m, "NormCache")
      .def(py::init<>())
      .def_readonly("xhat", &ops::NormCache::xhat)
      .def_readonly("mean", &ops::NormCache::mean)
      .def_readonly("rstd", &ops::NormCache::rstd);
  m.def(
      "groupnorm_forward",
      [](Tensor& out, ops::NormCache& cache, const Tensor& inp, const Tensor* gamma, const Tensor* beta, std::int64_t N,
         std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L, float eps) {
        ops::groupnorm_forward(out, cache, inp, gamma, beta, {N, A, G, K, L}, eps);
      },
      arg("out"), arg("cache"), arg("inp"), arg("gamma").none(true), arg("beta").none(true), arg("N"), arg("A"),
      arg("G"), arg("K"), arg("L"), arg("eps"), nogil);
  m.def(
      "groupnorm_backward",
      [](Tensor& dinp, Tensor* dgamma, Tensor* dbeta, const Tensor& dout, const ops::NormCache& cache,
         const Tensor* gamma, std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L) {
        ops::groupnorm_backward(dinp, dgamma, dbeta, dout, cache, gamma, {N, A, G, K, L});
      },
      arg("dinp"), arg("dgamma").none(true), arg("dbeta").none(true), arg("dout"), arg("cache"),
      arg("gamma").none(true), arg("N"), arg("A"), arg("G"), arg("K"), arg("L"), nogil);
  m.def("layernorm_forward", &ops::layernorm_forward, arg("out"), arg("cache"), arg("inp"), arg("gamma").none(true),
        arg("beta").none(true), arg("R"), arg("D"), arg("eps"), nogil);
  m.def("layernorm_backward", &ops::layernorm_backward, arg("dinp"), arg("dgamma").none(true), arg("dbeta").none(true),
        arg("dout"), arg("cache"), arg("gamma").none(true), arg("R"), arg("D"), nogil);
  m.def("blend", &ops::blend, arg("moving"), arg("batch"), arg("keep"), arg("batch_scale") = 1.0f, nogil);
  m.def("activation_forward", &ops::activation_forward, arg("out"), arg("inp"), arg("act"), nogil);
  m.def("activation_backward", &ops::activation_backward, arg("dinp"), arg("dout"), arg("out"), arg("act"), nogil);
  m.def("dropout_forward", &ops::dropout_forward, arg("out"), arg("mask"), arg("inp"), arg("rate"), arg("seed"),
        arg("counter"), nogil);
  m.def("dropout_backward", &ops::dropout_backward, arg("dinp"), arg("dout"), arg("mask"), nogil);
  m.def("xent", &ops::xent, arg("loss_rows"), arg("grad").none(true), arg("pred"), arg("target"), arg("form"),
        arg("grad_wrt_logits"), arg("eps"), arg("scale"), nogil);
  m.def("mse", &ops::mse, arg("loss_rows"), arg("grad").none(true), arg("pred"), arg("target"), arg("scale"), nogil);
  m.def("accuracy", &ops::accuracy, arg("correct"), arg("pred"), arg("target"), nogil);
  m.def("sum", &ops::sum, arg("x"), nogil);
  m.def("sgd_update", &ops::sgd_update, arg("w"), arg("buf"), arg("g"), arg("lr"), arg("momentum"), arg("dampening"),
        arg("weight_decay"), arg("nesterov"), arg("first_step"), nogil);
  m.def("adam_update", &ops::adam_update, arg("w"), arg("m"), arg("v"), arg("vmax").none(true), arg("g"), arg("lr"),
        arg("beta1"), arg("beta2"), arg("eps"), arg("step"), arg("keras_eps"), arg("weight_decay"), nogil);
  m.def("rmsprop_update", &ops::rmsprop_update, arg("w"), arg("v"), arg("avg").none(true), arg("mom").none(true),
        arg("g"), arg("lr"), arg("rho"), arg("momentum"), arg("eps"), nogil);
}

}  // namespace bnlab::bind
