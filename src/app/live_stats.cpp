// The live daemon's numbers: see live_stats.hpp.
#include "live_stats.hpp"

#include <algorithm>
#include <cstdio>
#include <variant>

namespace ftpalg::app {

std::uint64_t StatsMailbox::request() {
  std::uint64_t ticket;
  {
    std::lock_guard lock(mutex_);
    ticket = generation_;
  }
  requested_.store(true);
  return ticket;
}

bool StatsMailbox::waitForAnswer(std::uint64_t ticket, std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  return published_.wait_until(lock, until, [&] { return generation_ != ticket || closed_; });
}

void StatsMailbox::publish(const Stats& stats) {
  {
    std::lock_guard lock(mutex_);
    snapshot_ = stats;
    ++generation_;
  }
  published_.notify_all();
}

void StatsMailbox::close(const Stats& stats) {
  {
    std::lock_guard lock(mutex_);
    snapshot_ = stats;
    ++generation_;
    closed_ = true;
  }
  published_.notify_all();
}

Stats StatsMailbox::snapshot() {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

Stats sumStats(const std::vector<Stats>& perWorker) {
  Stats total;
  for (const Stats& stats : perWorker) {
    for (std::size_t i = 0; i < total.values.size(); ++i) total.values[i] += stats.values[i];
  }
  return total;
}

bool isAnnouncement(const Outcome& outcome) {
  return std::any_of(outcome.actions.begin(), outcome.actions.end(),
                     [](const Action& a) { return std::holds_alternative<OpenPinhole>(a); }) ||
         std::any_of(outcome.observations.begin(), outcome.observations.end(),
                     [](const Observation& o) { return std::holds_alternative<Rewrite>(o.body); });
}

void AnnouncementLatency::add(double totalUs, double engineUs, double pinholeUs) {
  ++count;
  if (total.size() >= 100000) return;
  total.push_back(totalUs);
  engine.push_back(engineUs);
  pinhole.push_back(pinholeUs);
}

std::optional<std::string> latencySummary(const std::vector<const AnnouncementLatency*>& perWorker) {
  std::vector<double> total, engine, pinhole;
  std::uint64_t count = 0;
  for (const AnnouncementLatency* latency : perWorker) {
    total.insert(total.end(), latency->total.begin(), latency->total.end());
    engine.insert(engine.end(), latency->engine.begin(), latency->engine.end());
    pinhole.insert(pinhole.end(), latency->pinhole.begin(), latency->pinhole.end());
    count += latency->count;
  }
  if (total.empty()) return std::nullopt;
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double engineMedian = median(engine);
  const double pinholeMedian = median(pinhole);
  const double totalMedian = median(total);
  char line[320];
  std::snprintf(line, sizeof line,
                "%llu announcement packets; receive-to-verdict median %.1f us (engine %.1f us, pinhole "
                "install %.1f us), p99 %.1f us, max %.1f us",
                static_cast<unsigned long long>(count), totalMedian, engineMedian, pinholeMedian,
                total[total.size() * 99 / 100], total.back());
  return std::string(line);
}

}  // namespace ftpalg::app
