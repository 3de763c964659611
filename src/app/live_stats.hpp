// The live daemon's numbers: the engine counters the queue workers publish (for the `stats` lines
// of SIGUSR1 and shutdown) and the receive-to-verdict latency of announcement packets (reported on
// stderr at shutdown).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/engine/reasons.hpp"

namespace ftpalg::app {

// How the main thread reads a worker's engine counters without a lock on the packet path: it
// requests (and wakes the worker); the worker, at its next loop turn, publishes a snapshot. When
// the worker ends it publishes its last snapshot and closes the mailbox.
class StatsMailbox {
 public:
  // Main thread. Returns the ticket to wait for.
  std::uint64_t request();
  // Main thread: true once a snapshot newer than `ticket` was published or the mailbox closed;
  // false when `until` passed first.
  bool waitForAnswer(std::uint64_t ticket, std::chrono::steady_clock::time_point until);
  // The last snapshot published.
  Stats snapshot();

  // Worker: true once per request.
  bool takeRequest() { return requested_.exchange(false); }
  void publish(const Stats& stats);
  // Worker, at its end: the last snapshot; requests are not answered afterwards.
  void close(const Stats& stats);

 private:
  std::atomic<bool> requested_{false};
  std::mutex mutex_;
  std::condition_variable published_;
  std::uint64_t generation_ = 0;  // publish() calls so far
  bool closed_ = false;
  Stats snapshot_;
};

// The counters of several engines added up.
Stats sumStats(const std::vector<Stats>& perWorker);

// True when the outcome of a packet announced something (opened a pinhole or rewrote an
// address): the packets whose latency is measured.
bool isAnnouncement(const Outcome& outcome);

// Announcement packets only: microseconds from the packet's receipt to its verdict, and the parts
// of it (engine, pinhole backend). The first 100000 samples are kept; `count` counts all.
struct AnnouncementLatency {
  std::vector<double> total, engine, pinhole;
  std::uint64_t count = 0;
  void add(double totalUs, double engineUs, double pinholeUs);
};

// The shutdown line over every worker's samples: count, medians of the three parts, p99 and max
// of the total. Nothing when no announcement was seen.
std::optional<std::string> latencySummary(const std::vector<const AnnouncementLatency*>& perWorker);

}  // namespace ftpalg::app
