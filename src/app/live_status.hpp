// What `ftpalg status` and the metrics endpoint show (src/app/status_server.hpp serves it): each
// queue worker's EngineSnapshot (include/ftpalg/engine/snapshot.hpp) and its receive-to-verdict
// latency histogram, and their text forms: the status as JSON or text, the metrics in the
// Prometheus text exposition format (version 0.0.4).
//
// Thread safety (docs/architecture.md, "Status and metrics"): an engine is single-threaded, so
// its snapshot is taken on its worker's thread. The status thread asks through each worker's
// Mailbox (request + wake); the worker answers between two packets (at the next turn of its
// loop, at most a second later, at once when woken) by publishing a copy; the status thread
// waits for the copies and formats them. Nothing on the packet path takes a lock; the copy is
// made only when someone asks.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/engine/snapshot.hpp"

namespace ftpalg::app {

// Upper bounds of the latency buckets, in seconds (Prometheus `le`); a last bucket, +Inf, holds
// the rest.
inline constexpr std::array<double, 14> kLatencyBucketBounds{
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25};

// Receive-to-verdict latency of every packet a worker received: from its receipt to the moment
// its verdict was handed to the kernel (a held packet: when it was released). Plain counts,
// written by the worker alone.
struct LatencyHistogram {
  std::array<std::uint64_t, kLatencyBucketBounds.size() + 1> counts{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  double sumSeconds = 0;
  void add(std::chrono::nanoseconds latency);
  void merge(const LatencyHistogram& other);
};

// One worker's answer.
struct WorkerStatus {
  std::uint16_t queue = 0;
  EngineSnapshot engine;
  LatencyHistogram latency;
};

// A request answered by another thread: the asker calls request() (and wakes the answerer), then
// waitForAnswer(); the answerer polls takeRequest() between two packets and publish()es a copy.
template <typename T>
class Mailbox {
 public:
  // Asker. Returns the ticket to wait for.
  std::uint64_t request() {
    std::lock_guard<std::mutex> lock(mutex_);
    requested_ = true;
    return generation_;
  }
  // Asker: the first answer published after request() returned `ticket`; nullopt when `until`
  // passed first or the answerer closed the mailbox.
  std::optional<T> waitForAnswer(std::uint64_t ticket, std::chrono::steady_clock::time_point until) {
    std::unique_lock<std::mutex> lock(mutex_);
    published_.wait_until(lock, until, [&] { return generation_ > ticket || closed_; });
    if (generation_ <= ticket) return std::nullopt;
    return value_;
  }
  // Answerer: true once per request (a cheap check when nobody asked: one uncontended lock).
  bool takeRequest() {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool asked = requested_;
    requested_ = false;
    return asked;
  }
  void publish(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      value_ = std::move(value);
      ++generation_;
    }
    published_.notify_all();
  }
  // Answerer, at its end: later requests get nullopt at once.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    published_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable published_;
  bool requested_ = false;
  bool closed_ = false;
  std::uint64_t generation_ = 0;
  T value_{};
};

// What the daemon says about itself at the top of the status.
struct DaemonStatus {
  int pid = 0;
  std::string mode;     // "live" | "dry-run"
  std::string summary;  // the "running (...)" line
  std::chrono::seconds uptime{0};
};

// `ftpalg status --json`: one JSON object (docs/admin-guide.md, "Watching it: ftpalg status").
std::string statusJson(const DaemonStatus& daemon, const std::vector<WorkerStatus>& workers);
// `ftpalg status`: the same, for a terminal.
std::string statusText(const DaemonStatus& daemon, const std::vector<WorkerStatus>& workers);
// The metrics: every counter (ftpalg_<name>_total), the session, pinhole and held-packet gauges,
// the latency histogram (ftpalg_verdict_latency_seconds), summed over the workers.
std::string metricsText(const std::vector<WorkerStatus>& workers);

}  // namespace ftpalg::app
