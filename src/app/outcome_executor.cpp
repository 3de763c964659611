// OutcomeExecutor: see outcome_executor.hpp.
#include "outcome_executor.hpp"

#include <variant>

namespace ftpalg::app {

void OutcomeExecutor::execute(const Outcome& outcome) {
  if (timed_) timing_.start = Clock::now();
  for (const Action& action : outcome.actions) {
    if (const auto* adjust = std::get_if<AdjustKernelSequence>(&action)) {
      if (auto adjusted = ports_.kernel.adjustSequence(*adjust); !adjusted) {
        warn_("conntrack sequence adjustment of " + adjust->control.toString() + " " +
              std::string(directionName(adjust->direction)) +
              " not written (the connection's stream is out of step): " + adjusted.error());
      }
    } else if (const auto* verified = std::get_if<MarkDialogVerified>(&action)) {
      if (auto marked = ports_.kernel.markDialogVerified(*verified); !marked) {
        warn_("conntrack mark of " + verified->control.toString() +
              " not written (a takeover will not know its dialog was verified): " + marked.error());
      }
    }
  }
  for (const Action& action : outcome.actions) {
    if (const auto* open = std::get_if<OpenPinhole>(&action)) {
      if (auto opened = ports_.pinholes.open(open->pinhole); !opened) {
        warn_("pinhole not installed (its data connection will fail): " + opened.error());
      }
    } else if (const auto* close = std::get_if<ClosePinhole>(&action)) {
      if (auto closed = ports_.pinholes.close(close->pinhole, close->reason); !closed) {
        warn_("pinhole not removed (it expires on its own): " + closed.error());
      }
    }
  }
  if (timed_) timing_.actionsDone = Clock::now();
  for (const PacketVerdict& verdict : outcome.verdicts) {
    if (auto delivered = ports_.verdicts.deliver(verdict); !delivered) warn_(delivered.error());
  }
  if (timed_) timing_.verdictsDone = Clock::now();
  for (const Observation& observation : outcome.observations) ports_.log.record(observation);
  for (const FlowKey& flow : outcome.forgottenFlows) ports_.resolver.forget(flow);
}

}  // namespace ftpalg::app
