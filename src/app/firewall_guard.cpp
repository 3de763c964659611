// FirewallGuard: see firewall_guard.hpp.
#include "firewall_guard.hpp"

#include <algorithm>

#include "log/diagnostics.hpp"

namespace ftpalg::app {

namespace {

using log::reportError;
using log::reportWarning;

// Generation ids count up by one per commit and wrap at 2^32.
bool after(std::uint32_t generation, std::uint32_t reference) {
  return static_cast<std::int32_t>(generation - reference) > 0;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

FirewallGuard::FirewallGuard(std::unique_ptr<firewall::RulesetMonitor> monitor,
                             std::vector<GuardedPart> parts)
    : monitor_(std::move(monitor)), parts_(std::move(parts)), due_(parts_.size()) {}

Status<> FirewallGuard::arm() {
  auto generation = firewall::RulesetMonitor::currentGeneration();
  if (!generation) return Err(generation.error());
  ignoreUpTo_ = generation.value();
  armed_ = true;
  // What start-up did is in the socket already: read and dropped by generation.
  return onReadable() ? okStatus() : Err(std::string("the nf_tables monitor failed"));
}

bool FirewallGuard::onReadable() {
  auto batch = monitor_->read();
  if (!batch) {
    reportError("firewall watch: " + batch.error() + "; firewall reloads are no longer noticed");
    return false;
  }
  if (!armed_) return true;
  for (const firewall::RulesetTransaction& transaction : batch->transactions) {
    if (!after(transaction.generation, ignoreUpTo_)) continue;
    for (const firewall::RulesetChange& change : transaction.changes) {
      for (std::size_t i = 0; i < parts_.size(); ++i) {
        const auto hit = firewall::concernedPart(change, parts_[i].watched);
        if (!hit) continue;
        Due& due = due_[i];
        if (std::find(due.hits.begin(), due.hits.end(), *hit) == due.hits.end() && due.hits.size() < 64) {
          due.hits.push_back(*hit);
        }
        due.by = (transaction.process.empty() ? std::string("a process") : transaction.process) + " (pid " +
                 std::to_string(transaction.pid) + ", ruleset generation " +
                 std::to_string(transaction.generation) + ")";
        due.pending = true;
      }
    }
  }
  if (batch->lost) verifyAll("an unknown process (nf_tables notifications were lost: socket buffer full)");
  reinstallDue();
  return true;
}

void FirewallGuard::verifyAll(const std::string& why) {
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    if (auto verified = parts_[i].verify(); !verified) {
      due_[i].hits.push_back(
          firewall::WatchHit{{}, parts_[i].name, parts_[i].name + " (" + verified.error() + ")", false});
      due_[i].by = why;
      due_[i].pending = true;
    }
  }
}

void FirewallGuard::onTick() { reinstallDue(); }

std::optional<std::chrono::milliseconds> FirewallGuard::nextTick() const {
  const bool anyDue = std::any_of(due_.begin(), due_.end(), [](const Due& due) { return due.pending; });
  if (!anyDue) return std::nullopt;
  if (!notBefore_) return std::chrono::milliseconds(0);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*notBefore_ - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

void FirewallGuard::reinstallDue() {
  if (std::none_of(due_.begin(), due_.end(), [](const Due& due) { return due.pending; })) return;
  const auto now = Clock::now();
  if (notBefore_ && now < *notBefore_) return;
  std::erase_if(recent_, [&](Clock::time_point at) { return now - at > kBurstWindow; });
  if (static_cast<int>(recent_.size()) >= kBurst) {
    notBefore_ = now + backoff_;
    reportError("firewall: ftpalg's objects were removed " + std::to_string(recent_.size()) +
                " times within " + std::to_string(kBurstWindow.count()) +
                " s; something keeps removing them (a firewall manager that owns these tables or chains?); "
                "next reinstall in " +
                std::to_string(backoff_.count()) + " s");
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    recent_.clear();
    return;
  }
  recent_.push_back(now);
  notBefore_.reset();

  std::vector<firewall::WatchHit> deleted;
  std::vector<std::string> reinstalled, failed;
  std::vector<std::size_t> done;
  std::string by;
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    Due& due = due_[i];
    if (!due.pending) continue;
    deleted.insert(deleted.end(), due.hits.begin(), due.hits.end());
    by = due.by;
    if (auto again = parts_[i].reinstall(); !again) {
      failed.push_back(parts_[i].name + ": " + again.error());
      continue;
    }
    reinstalled.push_back(parts_[i].name);
    done.push_back(i);
  }
  ++reinstalls_;
  // Everything up to now is ours (or raced with us): the verification below covers it.
  if (auto generation = firewall::RulesetMonitor::currentGeneration(); generation) {
    ignoreUpTo_ = generation.value();
  } else {
    reportWarning("firewall watch: " + generation.error());
  }
  for (const std::size_t i : done) {
    if (auto verified = parts_[i].verify(); !verified) {
      failed.push_back(parts_[i].name + ": " + verified.error());
      continue;
    }
    due_[i] = Due{};
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - now);
  const std::string cause = "firewall: " + firewall::describeHits(deleted) + " deleted by " + by;
  if (failed.empty()) {
    reportWarning(cause + "; reinstalled " + joined(reinstalled) + " in " + std::to_string(elapsed.count()) +
                  " ms");
    backoff_ = std::chrono::seconds(1);
  } else {
    notBefore_ = Clock::now() + std::chrono::seconds(1);
    reportError(cause + "; reinstalling failed, retrying in 1 s: " + joined(failed));
  }
  for (const std::size_t i : done) {
    if (!due_[i].pending && parts_[i].afterReinstall) parts_[i].afterReinstall();
  }
}

}  // namespace ftpalg::app
