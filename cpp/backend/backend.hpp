// backend.hpp — the dispatch seam between device-generic ops and per-device kernels.
//
// A Backend is a table of plain function pointers: memory management plus every kernel that the ops in
// cpp/ops call. Kernels follow one convention (after llm.c): outputs first, then inputs, then sizes;
// raw pointers into buffers whose shapes are given in the comment beside each argument.
// Parameter gradients ACCUMULATE (+=) only where a kernel says so; every other output is ASSIGNED (=).
//
// Adding a backend means adding files: a translation unit that fills a Backend and calls
// register_backend() from a static initializer. No caller is edited. CPU files never include CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/device.hpp"

namespace bnlab {

enum class Act : int { Linear = 0, Relu = 1, Sigmoid = 2, Tanh = 3, Softmax = 4 };

// Cross-entropy forms. "Probs" takes probabilities (Keras from_logits=False: renormalise, clip to
// [eps, 1 - eps], -sum y log p); "Logits" takes raw scores (log-softmax inside). Sparse takes class
// indices (int32), categorical takes one row of targets per sample.
enum class XentForm : int { CategoricalProbs = 0, CategoricalLogits = 1, SparseProbs = 2, SparseLogits = 3 };

struct Backend {
  const char* name;

  // ---- memory ----
  void* (*alloc)(std::size_t bytes);
  void (*release)(void* ptr);
  void (*copy_from_host)(void* dst, const void* host_src, std::size_t bytes);
  void (*copy_to_host)(void* host_dst, const void* src, std::size_t bytes);
  void (*copy)(void* dst, const void* src, std::size_t bytes);  // within the device
  void (*fill)(float* dst, float value, std::int64_t n);
  void (*synchronize)();

  // ---- dense: out = inp @ W (+ bias) ----
  // weight_out_in=false: W is (IN, OUT) (Keras kernel); true: W is (OUT, IN) (PyTorch weight).
  void (*dense_forward)(float* out,           // (B, OUT)
                        const float* inp,     // (B, IN)
                        const float* weight,  // (IN, OUT) or (OUT, IN)
                        const float* bias,    // (OUT) or nullptr
                        std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in);
  // dinp assigned (skipped when nullptr); dweight and dbias ACCUMULATE when `accumulate`, else are assigned
  // (which saves the training loop a pass that zeroes them).
  void (*dense_backward)(float* dinp,          // (B, IN) or nullptr
                         float* dweight,       // same layout as weight
                         float* dbias,         // (OUT) or nullptr
                         const float* dout,    // (B, OUT)
                         const float* inp,     // (B, IN)
                         const float* weight,  // (IN, OUT) or (OUT, IN)
                         std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate);

  // ---- batch normalisation over feature c of x viewed as (N, C, L) ----
  // Training forward: statistics over N*L values per feature, in one read of x. fuse_relu: out is
  // max(y, 0) (NaN stays NaN), a BatchNormalization layer followed by a ReLU in one pass.
  void (*batchnorm_forward_train)(float* out,          // (N, C, L)
                                  float* xhat,         // (N, C, L) cache for backward
                                  float* mean,         // (C) batch mean, cache
                                  float* var,          // (C) biased batch variance, cache
                                  float* rstd,         // (C) 1/sqrt(var+eps), cache
                                  const float* inp,    // (N, C, L)
                                  const float* gamma,  // (C) or nullptr (scale=False)
                                  const float* beta,   // (C) or nullptr (center=False)
                                  std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu);
  // Inference forward with given statistics (moving/running); fuse_relu as above.
  void (*batchnorm_forward_infer)(float* out,          // (N, C, L)
                                  const float* inp,    // (N, C, L)
                                  const float* mean,   // (C)
                                  const float* var,    // (C)
                                  const float* gamma,  // (C) or nullptr
                                  const float* beta,   // (C) or nullptr
                                  std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu);
  // Backward through the training-mode transform. dgamma/dbeta ACCUMULATE (may be nullptr). With relu_out
  // (the fused forward's output), dout is the gradient w.r.t. the ReLU's output and is gated by [relu_out > 0].
  void (*batchnorm_backward)(float* dinp,            // (N, C, L)
                             float* dgamma,          // (C) or nullptr
                             float* dbeta,           // (C) or nullptr
                             const float* dout,      // (N, C, L)
                             const float* xhat,      // (N, C, L) from forward
                             const float* rstd,      // (C) from forward
                             const float* gamma,     // (C) or nullptr (treated as ones)
                             const float* relu_out,  // (N, C, L) or nullptr (no fused ReLU)
                             std::int64_t N, std::int64_t C, std::int64_t L);
  // moving = moving * keep + batch * batch_scale * (1 - keep), elementwise over (C). Keras blends the biased
  // variance (batch_scale 1); PyTorch the unbiased one (batch_scale M / (M - 1)).
  void (*blend)(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C);

  // ---- group normalisation; layer normalisation is its one-group case (see cpu/groupnorm_cpu.cpp) ----
  // x viewed as (N, A, G, K, L): group (n, g) is normalised over its A*K*L values, channel c = g*K + k carries
  // gamma[c] and beta[c]. Layer norm of x (R, D): (R, 1, 1, D, 1). Statistics in one read of x.
  void (*groupnorm_forward)(float* out,          // (N, A, G, K, L)
                            float* xhat,         // (N, A, G, K, L) cache for backward
                            float* mean,         // (N, G) cache
                            float* rstd,         // (N, G) 1/sqrt(var+eps), cache
                            const float* inp,    // (N, A, G, K, L)
                            const float* gamma,  // (G*K) or nullptr
                            const float* beta,   // (G*K) or nullptr
                            std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L, float eps);
  // dgamma/dbeta ACCUMULATE (may be nullptr).
  void (*groupnorm_backward)(float* dinp,         // (N, A, G, K, L)
                             float* dgamma,       // (G*K) or nullptr
                             float* dbeta,        // (G*K) or nullptr
                             const float* dout,   // (N, A, G, K, L)
                             const float* xhat,   // (N, A, G, K, L) from forward
                             const float* rstd,   // (N, G) from forward
                             const float* gamma,  // (G*K) or nullptr (treated as ones)
                             std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L);

  // ---- batch renormalisation's per-feature steps (the x-sized work is the batchnorm kernels'; see
  // cpu/batchrenorm_cpu.cpp for the equations and Keras's order). All (C). ----
  // gamma_eff, beta_eff, r, d assigned; renorm_mean/stddev and moving_mean/stddev blended; moving_var assigned.
  void (*batchrenorm_correct)(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                              float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                              const float* mean, const float* var, const float* gamma, const float* beta,
                              std::int64_t C, float eps, float rmin, float rmax, float dmax, float momentum,
                              float renorm_momentum);
  // dgamma += r * sum_dy_xhat + d * sum_dy, dbeta += sum_dy (ACCUMULATE; either may be nullptr).
  void (*batchrenorm_param_grads)(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy,
                                  const float* r, const float* d, std::int64_t C);

  // ---- activations (elementwise, except softmax which is per row of width D) ----
  void (*activation_forward)(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act);
  // dinp from dout and the forward OUTPUT (all five activations can be differentiated from it).
  void (*activation_backward)(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D,
                              Act act);

  // ---- dropout (inverted): keep with probability 1-rate, scale kept values by 1/(1-rate) ----
  void (*dropout_forward)(float* out,        // (n)
                          float* mask,       // (n) 0 or 1/(1-rate), cache
                          const float* inp,  // (n)
                          std::int64_t n, float rate, std::uint64_t seed, std::uint64_t counter);
  void (*dropout_backward)(float* dinp, const float* dout, const float* mask, std::int64_t n);

  // ---- cross-entropy: per-sample losses, and the gradient w.r.t. the model output ----
  // `pred` is (B, K): probabilities or logits by form. `target` is (B, K) floats (categorical) or
  // (B) int32 (sparse). loss_rows gets (B) per-sample losses. grad (B, K) is d(mean loss)/d(input of the
  // final softmax) when grad_wrt_logits (fused softmax + CE; also every Logits form), otherwise
  // d(mean loss)/d(pred). grad may be nullptr. `scale` multiplies the gradient (1/B for a mean).
  void (*xent)(float* loss_rows, float* grad, const float* pred, const void* target, std::int64_t B, std::int64_t K,
               XentForm form, bool grad_wrt_logits, float eps, float scale);
  // Mean squared error over the last axis: loss_rows (B), grad (B, K) = scale * 2 (pred - target) / K.
  void (*mse)(float* loss_rows, float* grad, const float* pred, const float* target, std::int64_t B, std::int64_t K,
              float scale);
  // correct (B): 1 where argmax(pred row) equals the label (sparse) or argmax(target row), else 0.
  void (*accuracy)(float* correct, const float* pred, const void* target, std::int64_t B, std::int64_t K, bool sparse);
  // out (B) int32 = argmax over rows of x (B, K).
  void (*argmax_rows)(std::int32_t* out, const float* x, std::int64_t B, std::int64_t K);
  // sum over n elements, in double (the host waits for the result).
  double (*sum)(const float* x, std::int64_t n);
  // acc[0] += sum(a), acc[1] += sum(b), in double, without the host waiting: the training loop keeps its
  // running loss and accuracy totals on the device and reads them back only when it shows them.
  void (*accumulate_sums)(double* acc,     // (2) accumulates
                          const float* a,  // (n)
                          const float* b,  // (n)
                          std::int64_t n);
  // out (B, D) = rows of src (n, D) picked by idx (B), which lives on the same device as src: the training
  // loop uploads each epoch's permutation once, so batching moves nothing between host and device.
  void (*gather_rows)(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes);

  // ---- optimizer updates, in place on n elements ----
  // SGD, Keras/PyTorch unified: g' = g + wd*w; if momentum: buf = momentum*buf + (1-dampening)*g'
  // (first step buf = g'), step = nesterov ? g' + momentum*buf : buf; w -= lr*step.
  // Keras SGD maps to dampening = 0, wd = 0 with buf holding -velocity/lr (see nn/optimizer.cpp).
  void (*sgd_update)(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum, float dampening,
                     float weight_decay, bool nesterov, bool first_step);
  // Adam: m, v moments, m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2); the caller passes omb1 = 1 - b1 and
  // omb2 = 1 - b2 computed in double (as Keras and PyTorch do: 1.0f - 0.999f is 0.00099998713, not 0.001)
  // and the bias corrections c1 = 1-b1^t, c2 = 1-b2^t.
  // keras_eps=true : w -= lr*sqrt(c2)/c1 * m / (sqrt(v) + eps)              (Keras)
  // keras_eps=false: w -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)               (PyTorch)
  // vmax (amsgrad) may be nullptr. weight_decay is L2 added to g (PyTorch Adam).
  void (*adam_update)(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float lr, float omb1,
                      float omb2, float eps, float c1, float c2, bool keras_eps, float weight_decay);
  // RMSprop (Keras): v = rho v + (1-rho) g^2; centered: a = rho a + (1-rho) g, denom = v - a^2;
  // inc = lr g / sqrt(denom + eps); momentum: mom = momentum*mom + inc, w -= mom; else w -= inc.
  void (*rmsprop_update)(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr,
                         float rho, float momentum, float eps);
};

// Registry. A backend registers itself once at static-initialisation time.
void register_backend(Device device, const Backend* backend);
// The backend for a device; throws std::runtime_error naming the device when none is registered.
const Backend& backend(Device device);
bool backend_available(Device device);

}  // namespace bnlab
