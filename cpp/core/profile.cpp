// profile.cpp — the profiler's fixed table of entries (see profile.hpp).
#include "core/profile.hpp"

#include <array>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace bnlab::profile {
namespace detail {
namespace {
bool from_environment() {
  const char* v = std::getenv("BNLAB_PROFILE");
  return v && *v && std::strcmp(v, "0") != 0;
}

constexpr std::size_t kCapacity = 256;  // distinct (phase, shape) keys; more fold into the "other" entry
std::mutex g_mutex;
std::array<Entry, kCapacity> g_table;
std::size_t g_used = 0;
Entry g_other{"other"};

bool same_key(const Entry& a, const Entry& b) {
  return a.m == b.m && a.n == b.n && a.k == b.k && a.trans_a == b.trans_a && a.trans_b == b.trans_b &&
         (a.phase == b.phase || std::strcmp(a.phase, b.phase) == 0);
}
}  // namespace

bool g_enabled = from_environment();

void add(const Entry& key, double seconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Entry* e = nullptr;
  for (std::size_t i = 0; i < g_used && !e; ++i)
    if (same_key(g_table[i], key)) e = &g_table[i];
  if (!e && g_used < kCapacity) {
    e = &g_table[g_used++];
    *e = key;
    e->calls = 0;
    e->seconds = e->flops = e->bytes = 0.0;
  }
  if (!e) e = &g_other;
  e->calls += 1;
  e->seconds += seconds;
  e->flops += key.flops;
  e->bytes += key.bytes;
}
}  // namespace detail

void set_enabled(bool on) { detail::g_enabled = on; }

void reset() {
  std::lock_guard<std::mutex> lock(detail::g_mutex);
  detail::g_used = 0;
  detail::g_other = Entry{"other"};
}

std::vector<Entry> snapshot() {
  std::lock_guard<std::mutex> lock(detail::g_mutex);
  std::vector<Entry> out(detail::g_table.begin(), detail::g_table.begin() + static_cast<long>(detail::g_used));
  if (detail::g_other.calls) out.push_back(detail::g_other);
  return out;
}

}  // namespace bnlab::profile
