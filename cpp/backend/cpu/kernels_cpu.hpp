// kernels_cpu.hpp — declarations of the CPU kernels; cpu_backend.cpp puts them into the CPU Backend table.
// Signatures and buffer shapes are documented once, in backend/backend.hpp.
#pragma once

#include "backend/backend.hpp"

namespace bnlab::cpu {

void dense_forward(float* out, const float* inp, const float* weight, const float* bias, std::int64_t B,
                   std::int64_t IN, std::int64_t OUT, bool weight_out_in);
void dense_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp, const float* weight,
                    std::int64_t B, std::int64_t IN, std::int64_t OUT, bool weight_out_in, bool accumulate);

void batchnorm_forward_train(float* out, float* xhat, float* mean, float* var, float* rstd, const float* inp,
                             const float* gamma, const float* beta, std::int64_t N, std::int64_t C, std::int64_t L,
                             float eps, bool fuse_relu);
void batchnorm_forward_infer(float* out, const float* inp, const float* mean, const float* var, const float* gamma,
                             const float* beta, std::int64_t N, std::int64_t C, std::int64_t L, float eps,
                             bool fuse_relu);
void batchnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, const float* relu_out, std::int64_t N, std::int64_t C,
                        std::int64_t L);
void blend(float* moving, const float* batch, float keep, float batch_scale, std::int64_t C);
void groupnorm_forward(float* out, float* xhat, float* mean, float* rstd, const float* inp, const float* gamma,
                       const float* beta, std::int64_t N, std::int64_t A, std::int64_t G, std::int64_t K,
                       std::int64_t L, float eps);
void groupnorm_backward(float* dinp, float* dgamma, float* dbeta, const float* dout, const float* xhat,
                        const float* rstd, const float* gamma, std::int64_t N, std::int64_t A, std::int64_t G,
                        std::int64_t K, std::int64_t L);
void batchrenorm_correct(float* gamma_eff, float* beta_eff, float* r, float* d, float* renorm_mean,
                         float* renorm_stddev, float* moving_mean, float* moving_stddev, float* moving_var,
                         const float* mean, const float* var, const float* gamma, const float* beta, std::int64_t C,
                         float eps, float rmin, float rmax, float dmax, float momentum, float renorm_momentum);
void batchrenorm_param_grads(float* dgamma, float* dbeta, const float* sum_dy_xhat, const float* sum_dy, const float* r,
                             const float* d, std::int64_t C);

void activation_forward(float* out, const float* inp, std::int64_t rows, std::int64_t D, Act act);
void activation_backward(float* dinp, const float* dout, const float* out, std::int64_t rows, std::int64_t D, Act act);

void dropout_forward(float* out, float* mask, const float* inp, std::int64_t n, float rate, std::uint64_t seed,
                     std::uint64_t counter);
void dropout_backward(float* dinp, const float* dout, const float* mask, std::int64_t n);

void xent(float* loss_rows, float* grad, const float* pred, const void* target, std::int64_t B, std::int64_t K,
          XentForm form, bool grad_wrt_logits, float eps, float scale);
void mse(float* loss_rows, float* grad, const float* pred, const float* target, std::int64_t B, std::int64_t K,
         float scale);
void accuracy(float* correct, const float* pred, const void* target, std::int64_t B, std::int64_t K, bool sparse);
void argmax_rows(std::int32_t* out, const float* x, std::int64_t B, std::int64_t K);
double sum(const float* x, std::int64_t n);
void accumulate_sums(double* acc, const float* a, const float* b, std::int64_t n);
void gather_rows(void* out, const void* src, const std::int32_t* idx, std::int64_t B, std::int64_t row_bytes);

void sgd_update(float* w, float* buf, const float* g, std::int64_t n, float lr, float momentum, float dampening,
                float weight_decay, bool nesterov, bool first_step);
void adam_update(float* w, float* m, float* v, float* vmax, const float* g, std::int64_t n, float lr, float omb1,
                 float omb2, float eps, float c1, float c2, bool keras_eps, float weight_decay);
void rmsprop_update(float* w, float* v, float* avg, float* mom, const float* g, std::int64_t n, float lr, float rho,
                    float momentum, float eps);

}  // namespace bnlab::cpu
