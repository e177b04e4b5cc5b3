// kernels.hpp — every kernel's signature, declared once, and the list of a Backend's entries.
//
// A kernel follows one convention (after llm.c): outputs first, then inputs, then sizes; raw pointers into
// buffers whose shapes are given in the comment beside each argument. Parameter gradients ACCUMULATE (+=)
// only where a kernel says so; every other output is ASSIGNED (=).
//
// Each signature is a function type in namespace kernel (`kernel::DenseForward`). Three places use it, and
// none of them repeats the parameter list:
//   * struct Backend (backend.hpp) holds one pointer per entry of BNLAB_KERNELS;
//   * a backend declares its kernels with BNLAB_DECLARE_KERNELS (kernels_cpu.hpp, cuda_common.cuh), which
//     expands to `kernel::DenseForward dense_forward;` and so on (a definition whose parameters differ
//     from the signature leaves the declared one undefined: the link fails and names it);
//   * a backend fills its table with BNLAB_KERNEL_TABLE (cpu_backend.cpp, cuda_backend.cu).
// Adding a kernel: its signature here, its name in BNLAB_KERNELS, and a definition in each backend's files
// (a new file under cpu/ and cuda/: CMake picks both up). docs/ARCHITECTURE.md walks through an example.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bnlab {

enum class Act : int { Linear = 0, Relu = 1, Sigmoid = 2, Tanh = 3, Softmax = 4 };

// Cross-entropy forms. "Probs" takes probabilities (Keras from_logits=False: renormalise, clip to
// [eps, 1 - eps], -sum y log p); "Logits" takes raw scores (log-softmax inside). Sparse takes class
// indices (int32), categorical takes one row of targets per sample.
enum class XentForm : int { CategoricalProbs = 0, CategoricalLogits = 1, SparseProbs = 2, SparseLogits = 3 };

// The geometry of a 2-D convolution or pooling window sliding over x, which is (N, H, W, C) when channels_last
// (Keras) and (N, C, H, W) otherwise (PyTorch). The output is (N, OH, OW, K) or (N, K, OH, OW); pooling has
// K == C. Output pixel (oh, ow) reads input rows oh*SH - pad_top + [0, KH) and columns ow*SW - pad_left + [0, KW);
// indices outside [0, H) x [0, W) are padding (the bottom and right padding are implied by OH and OW).
struct Conv2dShape {
  std::int64_t N = 0, C = 0, H = 0, W = 0;  // input
  std::int64_t K = 0;                       // output channels
  std::int64_t KH = 0, KW = 0;              // window
  std::int64_t SH = 1, SW = 1;              // strides
  std::int64_t pad_top = 0, pad_left = 0;
  std::int64_t OH = 0, OW = 0;  // output
  bool channels_last = true;
};

// The most dimensions a tensor kernel walks; ops/tensor_ops.cpp collapses a shape to at most this many.
constexpr int kMaxDims = 8;

// First is a (b ignored): a broadcasting copy, what expand() uses.
enum class BinaryOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3, First = 4 };

// y = f(x, s) for one scalar s (ignored by the ops that take none).
enum class UnaryOp : int {
  Neg = 0,          // -x
  Exp = 1,          // e^x
  Log = 2,          // ln x
  Sqrt = 3,         // sqrt x
  Abs = 4,          // |x|
  Sign = 5,         // -1, 0 or 1 (0 for NaN's sign is not defined; NaN stays NaN)
  AddScalar = 6,    // x + s
  MulScalar = 7,    // x * s
  DivScalar = 8,    // x / s  (a true division, not x * (1/s), so that results equal PyTorch's bit for bit)
  RSubScalar = 9,   // s - x
  RDivScalar = 10,  // s / x
  PowScalar = 11,   // x^s (s = 2 is x*x, s = 0.5 is sqrt x, as PyTorch special-cases them)
  Sin = 12,         // sin x
  Cos = 13,         // cos x
  Tan = 14,         // tan x
  Sinh = 15,        // sinh x
  Cosh = 16,        // cosh x
  Log2 = 17,        // log2 x
  Log10 = 18,       // log10 x
  Log1p = 19,       // ln(1 + x), accurate near 0
  Expm1 = 20,       // e^x - 1, accurate near 0
  Floor = 21,       // floor x
  Ceil = 22,        // ceil x
  Trunc = 23,       // x rounded toward 0
  Round = 24,       // x rounded half to even (PyTorch's round)
};

namespace kernel {

// ---- memory ----
using Alloc = void*(std::size_t bytes);
using Release = void(void* ptr);
using CopyFromHost = void(void* dst, const void* host_src, std::size_t bytes);
using CopyToHost = void(void* host_dst, const void* src, std::size_t bytes);
using Copy = void(void* dst, const void* src, std::size_t bytes);  // within the device
using Fill = void(float* dst, float value, std::int64_t n);
using Synchronize = void();

// ---- dense: out = inp @ W (+ bias) ----
// weight_out_in=false: W is (IN, OUT) (Keras kernel); true: W is (OUT, IN) (PyTorch weight).
using DenseForward = void(float* out,           // (B, OUT)
                          const float* inp,     // (B, IN)
                          const float* weight,  // (IN, OUT) or (OUT, IN)
                          const float* bias,    // (OUT) or nullptr
                          std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in);
// dinp assigned (skipped when nullptr); dweight and dbias ACCUMULATE when `accumulate`, else are assigned
// (which saves the training loop a pass that zeroes them).
using DenseBackward = void(float* dinp,          // (B, IN) or nullptr
                           float* dweight,       // same layout as weight
                           float* dbias,         // (OUT) or nullptr
                           const float* dout,    // (B, OUT)
                           const float* inp,     // (B, IN)
                           const float* weight,  // (IN, OUT) or (OUT, IN)
                           std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate);

// ---- batch normalisation over feature c of x viewed as (N, C, L) ----
// Training forward: statistics over N*L values per feature, in one read of x. fuse_relu: out is
// max(y, 0) (NaN stays NaN), a BatchNormalization layer followed by a ReLU in one pass.
using BatchnormForwardTrain = void(float* out,          // (N, C, L)
                                   float* xhat,         // (N, C, L) cache for backward
                                   float* mean,         // (C) batch mean, cache
                                   float* var,          // (C) biased batch variance, cache
                                   float* rstd,         // (C) 1/sqrt(var+eps), cache
                                   const float* inp,    // (N, C, L)
                                   const float* gamma,  // (C) or nullptr (scale=False)
                                   const float* beta,   // (C) or nullptr (center=False)
                                   std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu);
// Inference forward with given statistics (moving/running); fuse_relu as above.
using BatchnormForwardInfer = void(float* out,          // (N, C, L)
                                   const float* inp,    // (N, C, L)
                                   const float* mean,   // (C)
                                   const float* var,    // (C)
                                   const float* gamma,  // (C) or nullptr
                                   const float* beta,   // (C) or nullptr
                                   std::int64_t N, std::int64_t C, std::int64_t L, float eps, bool fuse_relu);
// Backward through the training-mode transform. dgamma/dbeta ACCUMULATE (may be nullptr). With relu_out
// (the fused forward's output), dout is the gradient w.r.t. the ReLU's output and is gated by [relu_out > 0].
using BatchnormBackward = void(float* dinp,            // (N, C, L)
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
using Blend = void(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C);

// ---- 2-D convolution (im2col + GEMM), geometry in Conv2dShape s; R = KH*KW*C values per output pixel ----
// channels_last: weight (KH, KW, C, K) (Keras kernel), cols (N*OH*OW, R) with rows (n, oh, ow) and columns
//   (kh, kw, c), out = cols @ weight, one GEMM for the batch.
// otherwise:     weight (K, C, KH, KW) (PyTorch weight), cols (N, R, OH*OW) with rows (c, kh, kw), out[n] =
//   weight @ cols[n], one GEMM per sample. Neither layout transposes the weight.
// The forward writes cols (the im2col of the input, padding as zeros), the cache its backward reads.
using Conv2dForward = void(float* out,           // (N, OH, OW, K) or (N, K, OH, OW)
                           float* cols,          // (N*OH*OW*R) cache for backward
                           const float* inp,     // (N, H, W, C) or (N, C, H, W)
                           const float* weight,  // (KH, KW, C, K) or (K, C, KH, KW)
                           const float* bias,    // (K) or nullptr
                           const Conv2dShape& s);
// dinp assigned (skipped when nullptr: then dcols is not touched); dweight and dbias ACCUMULATE when
// `accumulate`, else are assigned. dcols is scratch: (N*OH*OW, R) channels_last, (R, OH*OW) otherwise.
using Conv2dBackward = void(float* dinp,          // (N, H, W, C) or (N, C, H, W), or nullptr
                            float* dcols,         // scratch, see above
                            float* dweight,       // same layout as weight
                            float* dbias,         // (K) or nullptr
                            const float* dout,    // (N, OH, OW, K) or (N, K, OH, OW)
                            const float* cols,    // from forward
                            const float* weight,  // (KH, KW, C, K) or (K, C, KH, KW)
                            const Conv2dShape& s, bool accumulate);

// ---- 2-D pooling (K == C), windows never entirely in the padding ----
// Max: argmax gets the winner's index within its input plane, ih*W + iw (PyTorch's return_indices); the
// first maximum wins ties and a NaN wins over numbers. Padding never wins.
using MaxPool2dForward = void(float* out,            // (N, OH, OW, C) or (N, C, OH, OW)
                              std::int32_t* argmax,  // same shape as out, cache for backward
                              const float* inp,      // (N, H, W, C) or (N, C, H, W)
                              const Conv2dShape& s);
using MaxPool2dBackward = void(float* dinp,                 // input's shape, assigned
                               const float* dout,           // output's shape
                               const std::int32_t* argmax,  // from forward
                               const Conv2dShape& s);
// Average: the window's sum over its divisor, KH*KW when count_include_pad (PyTorch's default), else the
// number of input values the window covers (Keras/TF 'same').
using AvgPool2dForward = void(float* out,        // (N, OH, OW, C) or (N, C, OH, OW)
                              const float* inp,  // (N, H, W, C) or (N, C, H, W)
                              const Conv2dShape& s, bool count_include_pad);
using AvgPool2dBackward = void(float* dinp,        // input's shape, assigned
                               const float* dout,  // output's shape
                               const Conv2dShape& s, bool count_include_pad);
// ---- group normalisation; layer normalisation is its one-group case (see cpu/groupnorm_cpu.cpp) ----
// x viewed as (N, A, G, K, L): group (n, g) is normalised over its A*K*L values, channel c = g*K + k carries
// gamma[c] and beta[c]. Layer norm of x (R, D): (R, 1, 1, D, 1). Statistics in one read of x.
using GroupnormForward = void(float* out,          // (N, A, G, K, L)
                              float* xhat,         // (N, A, G, K, L) cache for backward
                              float* mean,         // (N, G) cache
                              float* rstd,         // (N, G) 1/sqrt(var+eps), cache
                              const float* inp,    // (N, A, G, K, L)
                              const float* gamma,  // (G*K) or nullptr
                              const float* beta,   // (G*K) or nullptr
                              std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K, std::int64_t L,
                              float eps);
// dgamma/dbeta ACCUMULATE (may be nullptr).
using GroupnormBackward = void(float* dinp,         // (N, A, G, K, L)
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
using BatchrenormCorrect = void(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                                float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                                const float* mean, const float* var, const float* gamma, const float* beta,
                                std::int64_t C, float eps, float rmin, float rmax, float dmax, float momentum,
                                float renorm_momentum);
// dgamma += r * sum_dy_xhat + d * sum_dy, dbeta += sum_dy (ACCUMULATE; either may be nullptr).
using BatchrenormParamGrads = void(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy,
                                   const float* r, const float* d, std::int64_t C);

// ---- activations (elementwise, except softmax which is per row of width D) ----
using ActivationForward = void(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act);
// dinp from dout and the forward OUTPUT (all five activations can be differentiated from it).
using ActivationBackward = void(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D,
                                Act act);

// ---- dropout (inverted): keep with probability 1-rate, scale kept values by 1/(1-rate) ----
using DropoutForward = void(float* out,        // (n)
                            float* mask,       // (n) 0 or 1/(1-rate), cache
                            const float* inp,  // (n)
                            std::int64_t n, float rate, std::uint64_t seed, std::uint64_t counter);
using DropoutBackward = void(float* dinp, const float* dout, const float* mask, std::int64_t n);

// ---- cross-entropy: per-sample losses, and the gradient w.r.t. the model output ----
// `pred` is (B, K): probabilities or logits by form. `target` is (B, K) floats (categorical) or
// (B) int32 (sparse). loss_rows gets (B) per-sample losses. grad (B, K) is d(mean loss)/d(input of the
// final softmax) when grad_wrt_logits (fused softmax + CE; also every Logits form), otherwise
// d(mean loss)/d(pred). grad may be nullptr. `scale` multiplies the gradient (1/B for a mean).
using Xent = void(float* loss_rows, float* grad, const float* pred, const void* target, std::int64_t B, std::int64_t K,
                  XentForm form, bool grad_wrt_logits, float eps, float scale);
// Mean squared error over the last axis: loss_rows (B), grad (B, K) = scale * 2 (pred - target) / K.
using Mse = void(float* loss_rows, float* grad, const float* pred, const float* target, std::int64_t B, std::int64_t K,
                 float scale);
// correct (B): 1 where argmax(pred row) equals the label (sparse) or argmax(target row), else 0.
using Accuracy = void(float* correct, const float* pred, const void* target, std::int64_t B, std::int64_t K,
                      bool sparse);
// out (B) int32 = argmax over rows of x (B, K).
using ArgmaxRows = void(std::int32_t* out, const float* x, std::int64_t B, std::int64_t K);
// sum over n elements, in double (the host waits for the result).
using Sum = double(const float* x, std::int64_t n);
// acc[0] += sum(a), acc[1] += sum(b), in double, without the host waiting: the training loop keeps its
// running loss and accuracy totals on the device and reads them back only when it shows them.
using AccumulateSums = void(double* acc,     // (2) accumulates
                            const float* a,  // (n)
                            const float* b,  // (n)
                            std::int64_t n);
// out (B, D) = rows of src (n, D) picked by idx (B), which lives on the same device as src: the training
// loop uploads each epoch's permutation once, so batching moves nothing between host and device.
using GatherRows = void(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes);

// ---- optimizer updates, in place on n elements ----
// SGD, Keras/PyTorch unified: g' = g + wd*w; if momentum: buf = momentum*buf + (1-dampening)*g'
// (first step buf = g'), step = nesterov ? g' + momentum*buf : buf; w -= lr*step.
// Keras SGD maps to dampening = 0, wd = 0 with buf holding -velocity/lr (see nn/optimizer.cpp).
using SgdUpdate = void(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum, float dampening,
                       float weight_decay, bool nesterov, bool first_step);
// Adam: m, v moments, m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2); the caller passes omb1 = 1 - b1 and
// omb2 = 1 - b2 computed in double (as Keras and PyTorch do: 1.0f - 0.999f is 0.00099998713, not 0.001)
// and the bias corrections c1 = 1-b1^t, c2 = 1-b2^t.
// keras_eps=true : w -= lr*sqrt(c2)/c1 * m / (sqrt(v) + eps)              (Keras)
// keras_eps=false: w -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps)               (PyTorch)
// vmax (amsgrad) may be nullptr. weight_decay is L2 added to g (PyTorch Adam).
using AdamUpdate = void(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float lr, float omb1,
                        float omb2, float eps, float c1, float c2, bool keras_eps, float weight_decay);
// RMSprop (Keras): v = rho v + (1-rho) g^2; centered: a = rho a + (1-rho) g, denom = v - a^2;
// inc = lr g / sqrt(denom + eps); momentum: mom = momentum*mom + inc, w -= mom; else w -= inc.
using RmspropUpdate = void(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr,
                           float rho, float momentum, float eps);

// ---- general tensor arithmetic, for bnlab.torch. Shapes and strides are worked out once by the
// device-generic ops in ops/tensor_ops.cpp (broadcasting, dropping size-1 dimensions, merging contiguous
// ones), so a kernel walks at most kMaxDims dimensions. ----
// out[i] = a[ia] op b[ib] over the (collapsed) output shape; ia, ib follow the element strides of a and
// b, which are 0 along broadcast dimensions. out may alias a or b when their strides are contiguous.
using Binary = void(float* out,      // (shape), contiguous
                    const float* a,  // strided by a_strides
                    const float* b,  // strided by b_strides
                    int ndim, const std::int64_t* shape, const std::int64_t* a_strides, const std::int64_t* b_strides,
                    BinaryOp op);
// out[i] = f(a[i], s) over n elements; out may alias a.
using Unary = void(float* out, const float* a, std::int64_t n, UnaryOp op, float s);
// out (m elements) = sums of a (shape, contiguous) where out_strides is 0 along the summed dimensions:
// out[sum_d idx_d * out_strides[d]] += a[idx]. Accumulates in double; assigns the result.
using SumTo = void(float* out, std::int64_t m, const float* a, int ndim, const std::int64_t* shape,
                   const std::int64_t* out_strides);

// ---- log-softmax over rows of width D ----
// out = x - max(x) - log(sum(exp(x - max(x)))).
using LogSoftmaxForward = void(float* out, const float* inp, std::int64_t rows, std::int64_t D);
// From the forward OUTPUT y: dx = dy - exp(y) * sum(dy)   (softmax = exp(y)).
using LogSoftmaxBackward = void(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D);

// ---- negative log-likelihood over log-probabilities (B, K) and int32 class indices (B) ----
// loss_rows[r] = -w[t_r] * logp[r, t_r] and weight_rows[r] = w[t_r] (w = 1 without weights); both 0 for a
// row whose target equals ignore_index. The caller reduces: sum, or sum / sum(weight_rows) for a mean.
using NllForward = void(float* loss_rows,            // (B)
                        float* weight_rows,          // (B)
                        const float* logp,           // (B, K)
                        const std::int32_t* target,  // (B)
                        const float* weight,         // (K) or nullptr
                        std::int64_t B, std::int64_t K, std::int64_t ignore_index);
// dlogp (B, K) = 0 except dlogp[r, t_r] = -w[t_r] * scale * (drows ? drows[r] : 1); ignored rows stay 0.
using NllBackward = void(float* dlogp, const float* drows, float scale, const std::int32_t* target, const float* weight,
                         std::int64_t B, std::int64_t K, std::int64_t ignore_index);

// ---- batch norm in eval mode (running statistics are constants), x viewed as (N, C, L) ----
// y = gamma * (x - mean) * rstd + beta, rstd = 1/sqrt(var + eps), so
// dx = dy * gamma * rstd;  dgamma += sum(dy * (x - mean) * rstd);  dbeta += sum(dy).
using BatchnormBackwardEval = void(float* dinp,         // (N, C, L)
                                   float* dgamma,       // (C) or nullptr, accumulates
                                   float* dbeta,        // (C) or nullptr, accumulates
                                   const float* dout,   // (N, C, L)
                                   const float* inp,    // (N, C, L)
                                   const float* mean,   // (C)
                                   const float* var,    // (C)
                                   const float* gamma,  // (C) or nullptr (ones)
                                   std::int64_t N, std::int64_t C, std::int64_t L, float eps);

}  // namespace kernel

// Every entry of a Backend table, as X(name, kernel::Type); the order is the struct's member order.
#define BNLAB_KERNELS(X)                            \
  X(alloc, Alloc)                                   \
  X(release, Release)                               \
  X(copy_from_host, CopyFromHost)                   \
  X(copy_to_host, CopyToHost)                       \
  X(copy, Copy)                                     \
  X(fill, Fill)                                     \
  X(synchronize, Synchronize)                       \
  X(dense_forward, DenseForward)                    \
  X(dense_backward, DenseBackward)                  \
  X(batchnorm_forward_train, BatchnormForwardTrain) \
  X(batchnorm_forward_infer, BatchnormForwardInfer) \
  X(batchnorm_backward, BatchnormBackward)          \
  X(blend, Blend)                                   \
  X(conv2d_forward, Conv2dForward)                  \
  X(conv2d_backward, Conv2dBackward)                \
  X(max_pool2d_forward, MaxPool2dForward)           \
  X(max_pool2d_backward, MaxPool2dBackward)         \
  X(avg_pool2d_forward, AvgPool2dForward)           \
  X(avg_pool2d_backward, AvgPool2dBackward)         \
  X(groupnorm_forward, GroupnormForward)            \
  X(groupnorm_backward, GroupnormBackward)          \
  X(batchrenorm_correct, BatchrenormCorrect)        \
  X(batchrenorm_param_grads, BatchrenormParamGrads) \
  X(activation_forward, ActivationForward)          \
  X(activation_backward, ActivationBackward)        \
  X(dropout_forward, DropoutForward)                \
  X(dropout_backward, DropoutBackward)              \
  X(xent, Xent)                                     \
  X(mse, Mse)                                       \
  X(accuracy, Accuracy)                             \
  X(argmax_rows, ArgmaxRows)                        \
  X(sum, Sum)                                       \
  X(accumulate_sums, AccumulateSums)                \
  X(gather_rows, GatherRows)                        \
  X(sgd_update, SgdUpdate)                          \
  X(adam_update, AdamUpdate)                        \
  X(rmsprop_update, RmspropUpdate)                  \
  X(binary, Binary)                                 \
  X(unary, Unary)                                   \
  X(sum_to, SumTo)                                  \
  X(log_softmax_forward, LogSoftmaxForward)         \
  X(log_softmax_backward, LogSoftmaxBackward)       \
  X(nll_forward, NllForward)                        \
  X(nll_backward, NllBackward)                      \
  X(batchnorm_backward_eval, BatchnormBackwardEval)

}  // namespace bnlab
