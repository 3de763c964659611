// OutcomeExecutor: carries out the engine's Outcomes through the shell's ports
// (include/ftpalg/io/interfaces.hpp), in the one order include/ftpalg/engine/outcome.hpp gives:
//   1. kernel session actions (KernelSessionPort: AdjustKernelSequence, MarkDialogVerified), in
//      the engine's order: conntrack adjusts the rewritten segment's stream before it leaves;
//   2. pinhole actions (PinholeBackend), in the engine's order: a pinhole exists before the
//      announcing packet leaves;
//   3. verdicts (VerdictSink), in the engine's order (held packets are released in arrival order);
//   4. observations, to the decision log (EventLog);
//   5. forgotten flows, to the FlowResolver (its cache may drop them).
// A port's failure does not stop the rest: it is reported through `warn` and execution goes on
// (a pinhole that failed to install makes only its data connection fail; a sequence adjustment
// that failed desynchronises that one connection, which the warning names).
//
// Live mode (one executor per queue worker) and replay use it alike; they differ only in the
// ports src/app/wiring.cpp chooses.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "ftpalg/engine/outcome.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::app {

struct OutcomePorts {
  KernelSessionPort& kernel;
  PinholeBackend& pinholes;
  VerdictSink& verdicts;
  EventLog& log;
  FlowResolver& resolver;
};

class OutcomeExecutor {
 public:
  using Warn = std::function<void(const std::string& message)>;
  using Clock = std::chrono::steady_clock;

  // When the phases of the last execute() ended; recorded only when timing is on (live mode's
  // receive-to-verdict report), so that replay reads no clock per packet.
  struct Timing {
    Clock::time_point start;
    Clock::time_point actionsDone;   // kernel records written, pinholes installed/removed
    Clock::time_point verdictsDone;  // the last verdict handed to the sink
  };

  OutcomeExecutor(OutcomePorts ports, Warn warn, bool timed = false)
      : ports_(ports), warn_(std::move(warn)), timed_(timed) {}

  void execute(const Outcome& outcome);
  const Timing& lastTiming() const { return timing_; }

 private:
  OutcomePorts ports_;
  Warn warn_;
  bool timed_;
  Timing timing_;
};

}  // namespace ftpalg::app
