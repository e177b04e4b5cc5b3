// bind_nn.cpp — layers, optimizers and the Sequential model with its C++ epoch loops (GIL released; the
// per-batch callback re-acquires it, and Ctrl-C is noticed there).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <array>

#include "convert.hpp"
#include "nn/conv_layers.hpp"
#include "nn/model.hpp"
#include "nn/norm_layers.hpp"
#include "nn/residual.hpp"

namespace bnlab::bind {
using namespace nn;

namespace {
// Wraps an optional Python callable(batch, read) -> bool into a BatchCallback; read() returns (loss, accuracy)
// so far. It is a separate call because on a GPU it waits for the device: Python asks only when it shows them.
BatchCallback wrap(const py::object& fn) {
  return [fn](std::int64_t batch, const MetricsProbe& probe) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (fn.is_none()) return false;
    py::cpp_function read([&probe] {
      Metrics m;
      {
        EngineRelease release;
        m = probe.read();
      }
      return py::make_tuple(m.loss(), m.accuracy());
    });
    return fn(batch, read).cast<bool>();
  };
}
}  // namespace

void bind_nn(py::module_& m) {
  using py::arg;
  py::class_<Layer, LayerPtr>(m, "Layer")
      .def_property_readonly("kind", &Layer::kind)
      .def_readwrite("trainable", &Layer::trainable)
      .def("build", &Layer::build, arg("input_shape"), arg("device") = Device::CPU)
      .def(
          "forward",
          [](Layer& l, const Tensor& x, bool training) {
            const Tensor& out = l.forward(x, training);
            return out.to(out.device());  // a copy: the layer reuses its output buffer on the next call
          },
          arg("x"), arg("training"), py::call_guard<FloatModeScope>())
      .def(
          "backward",
          [](Layer& l, const Tensor& dout) {
            l.begin_step();  // parameter gradients assigned, as the first backward of a training step
            const Tensor& dx = l.backward(dout, false, true);
            return dx.to(dx.device());  // a copy, as forward's
          },
          arg("dout"), py::call_guard<FloatModeScope>(),
          "d(loss)/d(input) for dout = d(loss)/d(output) of the last forward; fills the layer's grads")
      .def(
          "forward_backward",
          [](Layer& l, const Tensor& x, const Tensor& dout, bool training) {
            l.forward(x, training);
            l.begin_step();
            l.backward(dout, false, true);
          },
          arg("x"), arg("dout"), arg("training"), EngineCall(),
          "One forward and backward with no copies (for benchmarks); results stay in the layer.")
      .def("params",
           [](Layer& l) {
             py::list out;
             for (const Param& p : l.params()) out.append(py::make_tuple(p.name, *p.value, *p.grad));
             return out;
           })
      .def("buffers", [](Layer& l) {
        py::list out;
        for (auto& [name, t] : l.buffers()) out.append(py::make_tuple(name, *t));
        return out;
      });
  py::class_<Dense, Layer, std::shared_ptr<Dense>>(m, "Dense")
      .def(py::init<std::int64_t, bool, Act>(), arg("units"), arg("use_bias"), arg("activation"))
      .def_readonly("kernel", &Dense::kernel)
      .def_readonly("bias", &Dense::bias)
      .def_readonly("dkernel", &Dense::dkernel)
      .def_readonly("dbias", &Dense::dbias);
  py::class_<NormLayer, Layer, std::shared_ptr<NormLayer>>(m, "NormLayer")
      .def_property("epsilon", &NormLayer::epsilon, &NormLayer::set_epsilon)
      .def_property("center", &NormLayer::center, &NormLayer::set_center)
      .def_property("scale", &NormLayer::scale, &NormLayer::set_scale);
  py::class_<BatchNorm, NormLayer, std::shared_ptr<BatchNorm>>(m, "BatchNorm")
      .def(py::init<int, float, float, bool, bool>(), arg("axis"), arg("momentum"), arg("epsilon"), arg("center"),
           arg("scale"))
      .def_readwrite("momentum", &BatchNorm::momentum)
      .def_readonly("gamma", &BatchNorm::gamma)
      .def_readonly("beta", &BatchNorm::beta)
      .def_readonly("moving_mean", &BatchNorm::moving_mean)
      .def_readonly("moving_variance", &BatchNorm::moving_variance)
      .def_readonly("dgamma", &BatchNorm::dgamma)
      .def_readonly("dbeta", &BatchNorm::dbeta)
      .def_readonly("dx", &BatchNorm::dx)
      .def_readonly("cache", &BatchNorm::cache);
  py::class_<GroupNorm, NormLayer, std::shared_ptr<GroupNorm>>(m, "GroupNorm")
      .def(py::init<std::int64_t, int, float, bool, bool>(), arg("groups"), arg("axis"), arg("epsilon"), arg("center"),
           arg("scale"))
      .def_readonly("gamma", &GroupNorm::gamma)
      .def_readonly("beta", &GroupNorm::beta)
      .def_readonly("dgamma", &GroupNorm::dgamma)
      .def_readonly("dbeta", &GroupNorm::dbeta)
      .def_readonly("dx", &GroupNorm::dx)
      .def_readonly("cache", &GroupNorm::cache);
  py::class_<LayerNorm, GroupNorm, std::shared_ptr<LayerNorm>>(m, "LayerNorm")
      .def(py::init<int, float, bool, bool>(), arg("first_axis"), arg("epsilon"), arg("center"), arg("scale"));
  py::class_<ops::RenormClip>(m, "RenormClip")
      .def(py::init([](float rmin, float rmax, float dmax) {
             return ops::RenormClip{rmin, rmax, dmax};
           }),
           arg("rmin"), arg("rmax"), arg("dmax"))
      .def_readonly("rmin", &ops::RenormClip::rmin)
      .def_readonly("rmax", &ops::RenormClip::rmax)
      .def_readonly("dmax", &ops::RenormClip::dmax);
  py::class_<BatchRenorm, BatchNorm, std::shared_ptr<BatchRenorm>>(m, "BatchRenorm")
      .def(py::init<int, float, float, bool, bool, ops::RenormClip, float>(), arg("axis"), arg("momentum"),
           arg("epsilon"), arg("center"), arg("scale"), arg("clip"), arg("renorm_momentum"))
      .def_readwrite("renorm_momentum", &BatchRenorm::renorm_momentum)
      .def_readwrite("clip", &BatchRenorm::clip)
      .def_property_readonly("moving_stddev", [](BatchRenorm& l) { return l.state.moving_stddev; })
      .def_property_readonly("renorm_mean", [](BatchRenorm& l) { return l.state.renorm_mean; })
      .def_property_readonly("renorm_stddev", [](BatchRenorm& l) { return l.state.renorm_stddev; })
      .def_property_readonly("r", [](BatchRenorm& l) { return l.corr.r; })
      .def_property_readonly("d", [](BatchRenorm& l) { return l.corr.d; });
  py::class_<GhostBatchNorm, BatchNorm, std::shared_ptr<GhostBatchNorm>>(m, "GhostBatchNorm")
      .def(py::init<int, float, float, bool, bool, std::int64_t>(), arg("axis"), arg("momentum"), arg("epsilon"),
           arg("center"), arg("scale"), arg("virtual_batch_size"))
      .def_readonly("virtual_batch_size", &GhostBatchNorm::virtual_batch_size)
      .def_property_readonly("ghost_cache", [](GhostBatchNorm& l) { return l.ghost.bn; })
      .def_property_readonly("ghost_mean", [](GhostBatchNorm& l) { return l.ghost.mean; })
      .def_property_readonly("ghost_var", [](GhostBatchNorm& l) { return l.ghost.var; });
  py::class_<Activation, Layer, std::shared_ptr<Activation>>(m, "Activation").def(py::init<Act>(), arg("act"));
  py::class_<Dropout, Layer, std::shared_ptr<Dropout>>(m, "Dropout")
      .def(py::init<float, std::uint64_t>(), arg("rate"), arg("seed"));
  py::class_<Flatten, Layer, std::shared_ptr<Flatten>>(m, "Flatten").def(py::init<>());
  py::class_<Residual, Layer, std::shared_ptr<Residual>>(m, "Residual")
      .def(py::init<std::vector<LayerPtr>, std::vector<LayerPtr>>(), arg("main"), arg("shortcut"),
           "out = main(x) + shortcut(x): each branch a list of layers, an empty shortcut the identity")
      .def_readonly("main", &Residual::main)
      .def_readonly("shortcut", &Residual::shortcut)
      .def_readwrite("fuse_bn_relu", &Residual::fuse_bn_relu);
  using Pair = std::array<std::int64_t, 2>;
  const auto spec = [](Pair k, Pair s, bool same) { return WindowSpec{k[0], k[1], s[0], s[1], same}; };
  py::class_<Conv2D, Layer, std::shared_ptr<Conv2D>>(m, "Conv2D")
      .def(py::init([spec](std::int64_t filters, Pair kernel_size, Pair strides, bool same, bool use_bias, Act act) {
             return std::make_shared<Conv2D>(filters, spec(kernel_size, strides, same), use_bias, act);
           }),
           arg("filters"), arg("kernel_size"), arg("strides"), arg("same"), arg("use_bias"), arg("activation"))
      .def_readonly("kernel", &Conv2D::kernel)
      .def_readonly("bias", &Conv2D::bias)
      .def_readonly("dkernel", &Conv2D::dkernel)
      .def_readonly("dbias", &Conv2D::dbias);
  py::class_<Pooling2D, Layer, std::shared_ptr<Pooling2D>> pooling(m, "Pooling2D");
  py::enum_<Pooling2D::Mode>(pooling, "Mode")
      .value("Max", Pooling2D::Mode::Max)
      .value("Average", Pooling2D::Mode::Average);
  pooling.def(py::init([spec](Pooling2D::Mode mode, Pair pool_size, Pair strides, bool same) {
                return std::make_shared<Pooling2D>(mode, spec(pool_size, strides, same));
              }),
              arg("mode"), arg("pool_size"), arg("strides"), arg("same"));
  py::class_<GlobalAveragePooling2D, Layer, std::shared_ptr<GlobalAveragePooling2D>>(m, "GlobalAveragePooling2D")
      .def(py::init<>());

  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def_readwrite("learning_rate", &Optimizer::learning_rate)
      .def_readwrite("iterations", &Optimizer::iterations)
      .def(
          "step", [](Optimizer& o, Layer& layer) { o.step(layer.params()); }, arg("layer"),
          py::call_guard<FloatModeScope>())
      .def(
          "apply",
          [](Optimizer& o, std::vector<Tensor> values, std::vector<Tensor> grads) {
            if (values.size() != grads.size()) throw py::value_error("apply: as many gradients as values are needed");
            std::vector<Param> params;
            for (std::size_t i = 0; i < values.size(); ++i) params.push_back({"", &values[i], &grads[i]});
            o.step(params);
          },
          arg("values"), arg("grads"), EngineCall(),
          "One update of each value from its gradient (tf.keras's apply_gradients).\n"
          "The tensors share storage with the caller's, so the values change in place.")
      .def("slots",
           [](Optimizer& o, const Tensor& param) -> py::object {
             Optimizer::Slots* s = o.slots_of(param);
             if (!s) return py::none();
             return py::make_tuple(s->a, s->b, s->c, s->step);
           })
      .def(
          "restore_slots",
          [](Optimizer& o, const Tensor& param, std::int64_t step) {
            Optimizer::Slots& s = o.state_of(param);
            s.step = step;
            return py::make_tuple(s.a, s.b, s.c);
          },
          arg("param"), arg("step"));
  py::class_<SGD, Optimizer, std::shared_ptr<SGD>>(m, "SGD")
      .def(py::init<float, float, bool, float, float>(), arg("lr"), arg("momentum"), arg("nesterov"), arg("dampening"),
           arg("weight_decay"))
      .def_readwrite("momentum", &SGD::momentum);
  py::class_<Adam, Optimizer, std::shared_ptr<Adam>>(m, "Adam").def(
      py::init<float, double, double, float, bool, bool, float>(), arg("lr"), arg("beta1"), arg("beta2"), arg("eps"),
      arg("amsgrad"), arg("keras_eps"), arg("weight_decay"));
  py::class_<RMSprop, Optimizer, std::shared_ptr<RMSprop>>(m, "RMSprop")
      .def(py::init<float, float, float, float, bool>(), arg("lr"), arg("rho"), arg("momentum"), arg("eps"),
           arg("centered"));

  py::class_<LossSpec> loss(m, "LossSpec");
  py::enum_<LossSpec::Kind>(loss, "Kind").value("Xent", LossSpec::Kind::Xent).value("MSE", LossSpec::Kind::MSE);
  loss.def(py::init([](LossSpec::Kind kind, XentForm form, float eps) {
             return LossSpec{kind, form, eps};
           }),
           arg("kind"), arg("form") = XentForm::SparseProbs, arg("epsilon") = 1e-7f);

  py::class_<Metrics>(m, "Metrics")
      .def_property_readonly("loss", &Metrics::loss)
      .def_property_readonly("accuracy", &Metrics::accuracy)
      .def_readonly("samples", &Metrics::samples)
      .def_readonly("batches", &Metrics::batches)
      .def_readonly("stopped", &Metrics::stopped);

  py::class_<Sequential, std::shared_ptr<Sequential>>(m, "Sequential")
      .def(py::init<>())
      .def("add", &Sequential::add, arg("layer"))
      .def("build", &Sequential::build, arg("input_shape"), arg("device") = Device::CPU)
      .def_property_readonly("built", &Sequential::built)
      .def_property_readonly("device", &Sequential::device)
      .def_readonly("layers", &Sequential::layers)
      .def_readwrite("fuse_bn_relu", &Sequential::fuse_bn_relu)
      .def_property_readonly("fused_bn_relu_layers", &Sequential::fused_bn_relu_layers)
      .def("compile", &Sequential::compile, arg("optimizer"), arg("loss"))
      .def(
          "forward",
          [](Sequential& s, const Tensor& x, bool training) {
            const Tensor& out = s.forward(x, training);
            return out.to(out.device());  // a copy: the model reuses its output buffers on the next call
          },
          arg("x"), arg("training"), EngineCall())
      .def(
          "train_epoch",
          [](Sequential& s, const Tensor& x, const Tensor& y, std::int64_t batch_size, bool shuffle, std::uint64_t seed,
             std::uint64_t epoch, const py::object& callback, bool drop_last) {
            BatchCallback cb = wrap(callback);
            EngineRelease release;
            return s.train_epoch(x, y, batch_size, shuffle, seed, epoch, cb, drop_last);
          },
          arg("x"), arg("y"), arg("batch_size"), arg("shuffle"), arg("seed"), arg("epoch"),
          arg("callback") = py::none(), arg("drop_last") = false)
      .def(
          "evaluate",
          [](Sequential& s, const Tensor& x, const Tensor& y, std::int64_t batch_size, const py::object& callback) {
            BatchCallback cb = wrap(callback);
            EngineRelease release;
            return s.evaluate(x, y, batch_size, cb);
          },
          arg("x"), arg("y"), arg("batch_size"), arg("callback") = py::none())
      .def(
          "predict",
          [](Sequential& s, const Tensor& x, std::int64_t batch_size) {
            Tensor out;
            {
              EngineRelease release;
              s.predict(out, x, batch_size);
            }
            return out;
          },
          arg("x"), arg("batch_size"));
}

}  // namespace bnlab::bind
