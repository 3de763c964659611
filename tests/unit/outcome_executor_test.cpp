// The OutcomeExecutor's order (src/app/outcome_executor.hpp): kernel session actions, then
// pinhole actions, then verdicts, then observations, then forgotten flows, whatever order the
// actions have in the Outcome; a failing port is a warning and the rest still runs. The ports
// here only write down what they are asked, in order.
#include "app/outcome_executor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ftpalg::app {
namespace {

struct Journal {
  std::vector<std::string> calls;
};

class JournalSessionPort final : public KernelSessionPort {
 public:
  explicit JournalSessionPort(Journal& journal) : journal_(journal) {}
  Status<> adjustSequence(const AdjustKernelSequence& adjust) override {
    journal_.calls.push_back("adjust " + std::string(directionName(adjust.direction)) + " " +
                             std::to_string(adjust.record.offsetAfter));
    if (fail) return Err(std::string("no such connection"));
    return okStatus();
  }
  Status<> markDialogVerified(const MarkDialogVerified&) override {
    journal_.calls.push_back("verified");
    return okStatus();
  }
  bool fail = false;

 private:
  Journal& journal_;
};

class JournalBackend final : public PinholeBackend {
 public:
  explicit JournalBackend(Journal& journal) : journal_(journal) {}
  Status<> open(const Pinhole& pinhole) override {
    journal_.calls.push_back("open " + std::to_string(pinhole.id));
    return okStatus();
  }
  Status<> close(const Pinhole& pinhole, Reason) override {
    journal_.calls.push_back("close " + std::to_string(pinhole.id));
    return okStatus();
  }

 private:
  Journal& journal_;
};

class JournalSink final : public VerdictSink {
 public:
  explicit JournalSink(Journal& journal) : journal_(journal) {}
  Status<> deliver(const PacketVerdict& verdict) override {
    journal_.calls.push_back("verdict " + std::to_string(verdict.id));
    return okStatus();
  }

 private:
  Journal& journal_;
};

class JournalLog final : public EventLog {
 public:
  explicit JournalLog(Journal& journal) : journal_(journal) {}
  void record(const Observation&) override { journal_.calls.push_back("log"); }
  void recordStats(Timestamp, const Stats&) override {}
  void flush() override {}

 private:
  Journal& journal_;
};

class JournalResolver final : public FlowResolver {
 public:
  explicit JournalResolver(Journal& journal) : journal_(journal) {}
  std::optional<FlowContext> resolve(const PacketView&) override { return std::nullopt; }
  void forget(const FlowKey&) override { journal_.calls.push_back("forget"); }

 private:
  Journal& journal_;
};

Pinhole pinhole(std::uint64_t id) {
  Pinhole p;
  p.id = id;
  return p;
}

TEST(OutcomeExecutor, KernelSessionActionsFirstThenPinholesThenVerdictsLogAndForgottenFlows) {
  Journal journal;
  JournalSessionPort kernel(journal);
  JournalBackend pinholes(journal);
  JournalSink sink(journal);
  JournalLog log(journal);
  JournalResolver resolver(journal);
  std::vector<std::string> warnings;
  OutcomeExecutor executor(OutcomePorts{kernel, pinholes, sink, log, resolver},
                           [&](const std::string& message) { warnings.push_back(message); });
  Outcome outcome;
  // The engine's order of actions: a replaced pinhole, the new one, then the kernel records.
  outcome.actions.push_back(ClosePinhole{pinhole(1), Reason::Replaced});
  outcome.actions.push_back(OpenPinhole{pinhole(2)});
  outcome.actions.push_back(AdjustKernelSequence{{}, {}, Direction::ClientToServer, SeqAdjRecord{7, -2, -4}});
  outcome.actions.push_back(MarkDialogVerified{});
  outcome.verdicts.push_back(PacketVerdict{11, VerdictKind::Accept, {}});
  outcome.verdicts.push_back(PacketVerdict{12, VerdictKind::Accept, {}});
  outcome.observations.push_back(Observation{});
  outcome.forgottenFlows.push_back(FlowKey{});
  executor.execute(outcome);
  const std::vector<std::string> expected{"adjust c2s -4", "verified",   "close 1", "open 2",
                                          "verdict 11",    "verdict 12", "log",     "forget"};
  EXPECT_EQ(journal.calls, expected);
  EXPECT_TRUE(warnings.empty());
}

TEST(OutcomeExecutor, AFailedSequenceAdjustmentIsAWarningNamingTheFlowAndTheRestRuns) {
  Journal journal;
  JournalSessionPort kernel(journal);
  kernel.fail = true;
  JournalBackend pinholes(journal);
  JournalSink sink(journal);
  JournalLog log(journal);
  JournalResolver resolver(journal);
  std::vector<std::string> warnings;
  OutcomeExecutor executor(OutcomePorts{kernel, pinholes, sink, log, resolver},
                           [&](const std::string& message) { warnings.push_back(message); });
  Outcome outcome;
  AdjustKernelSequence adjust;
  adjust.control = FlowKey{Endpoint{*IpAddress::parse("192.168.77.10"), 40000},
                           Endpoint{*IpAddress::parse("203.0.113.10"), 21}};
  adjust.direction = Direction::ServerToClient;
  outcome.actions.push_back(adjust);
  outcome.verdicts.push_back(PacketVerdict{5, VerdictKind::Accept, {}});
  executor.execute(outcome);
  EXPECT_EQ(journal.calls, (std::vector<std::string>{"adjust s2c 0", "verdict 5"}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("192.168.77.10:40000-203.0.113.10:21 s2c"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("no such connection"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace ftpalg::app
