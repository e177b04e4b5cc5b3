// parallel.cpp — the pool behind parallel_for: persistent workers (thread count - 1), woken per call.
//
// A call publishes a job (fn, ctx, n, parts) and a new generation number under the pool's mutex; worker w runs
// part w + 1. Workers poll the generation for kSpin (250 us) after each job (a training step calls the pool many
// times in a row, with serial kernels between the calls, and a futex wake costs more than most parts): seed 003's
// epoch at batch 128 took 0.028 s with 250 us against 0.032 s with 50 us; 1 ms was no faster there and made
// the lab CNN's epoch slower in 2 of 3 alternating runs (the spinning core shares the machine with the other), then
// sleep on a condition variable;
// each takes its copy of the job under the mutex, so it never mixes two jobs, and sets the denormal mode the
// engine is in before it runs its part. The caller runs part 0, then
// waits for the others. One call at a time: a caller that finds the pool busy gets false and runs the parts
// itself. After fork() the child has no workers: the pool is forgotten there and re-created on first use.
#include "backend/cpu/parallel.hpp"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/float_mode.hpp"

namespace bnlab::cpu {
namespace {

inline void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

struct Job {
  PartFn fn = nullptr;
  void* ctx = nullptr;
  std::int64_t n = 0, parts = 1;
};

class Pool {
 public:
  int workers() const { return static_cast<int>(threads_.size()); }
  void grow(int workers) {  // called with no job running
    while (this->workers() < workers) {
      const int w = this->workers();
      threads_.emplace_back([this, w] { work(w); });
      threads_.back().detach();  // the pool lives until the process ends
    }
  }

  void run(const Job& job) {
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = job;
      pending_.store(static_cast<int>(job.parts - 1), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    job.fn(job.ctx, 0, 0, job.n / job.parts);
    while (pending_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  }

 private:
  void work(int w) {
    std::uint64_t seen = 0;
    for (;;) {
      const auto until = std::chrono::steady_clock::now() + kSpin;
      while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until)
        for (int i = 0; i < 64; ++i) pause();
      Job job;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
      }
      const std::int64_t p = w + 1;
      if (p >= job.parts) continue;
      apply_float_mode();  // the denormal setting (core/float_mode.hpp), as the calling thread has it
      job.fn(job.ctx, p, job.n * p / job.parts, job.n * (p + 1) / job.parts);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  static constexpr std::chrono::microseconds kSpin{250};  // polls before sleeping
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable wake_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  Job job_;
};

std::mutex g_call;       // one parallel call at a time
Pool* g_pool = nullptr;  // never destroyed: its workers sleep until the process exits

void forget_pool_in_child() {  // the parent's workers do not exist here; the forking thread holds g_call
  g_pool = nullptr;
  g_call.unlock();
}
void lock_for_fork() { g_call.lock(); }
void unlock_after_fork() { g_call.unlock(); }
const int g_atfork = pthread_atfork(lock_for_fork, unlock_after_fork, forget_pool_in_child);
}  // namespace

bool run_parts(std::int64_t n, std::int64_t parts, PartFn fn, void* ctx) {
  (void)g_atfork;
  std::unique_lock<std::mutex> call(g_call, std::try_to_lock);
  if (!call.owns_lock()) return false;
  if (!g_pool) g_pool = new Pool();
  g_pool->grow(static_cast<int>(parts - 1));
  g_pool->run({fn, ctx, n, parts});
  return true;
}

}  // namespace bnlab::cpu
