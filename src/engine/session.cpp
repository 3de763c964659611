// Session helpers: see include/ftpalg/engine/session.hpp.
#include "ftpalg/engine/session.hpp"

#include <algorithm>
#include <chrono>

#include "ftpalg/engine/escape.hpp"

namespace ftpalg {

bool TokenBucket::take(Timestamp now, double perSecond, double burst) {
  const double elapsed = std::chrono::duration<double>(now - refilledAt).count();
  refilledAt = now;
  tokens = std::min(burst, tokens + std::max(0.0, elapsed) * perSecond);
  if (tokens < 1.0) return false;
  tokens -= 1.0;
  return true;
}

std::int64_t receivedToOriginal(const DirectionState& direction, std::int64_t offset, AckSpace space) {
  return space == AckSpace::Output ? direction.adjuster.toOriginal(offset) : offset;
}

void stopInspection(Session& session, Effects& effects) {
  if (!session.inspecting) return;
  session.inspecting = false;
  effects.count(Stat::FlowsUninspected);
}

void recordAnomaly(Session& session, Direction dir, Reason reason, bool stopInspecting, Effects& effects) {
  effects.count(Stat::Anomalies);
  const bool stops = stopInspecting && session.inspecting;
  effects.observe(session.key, AnomalyObs{dir, reason, stops});
  if (stops) stopInspection(session, effects);
}

void recordReject(const Session& session, Direction dir, AddressVerb verb, Reason reason,
                  std::string_view line, Effects& effects) {
  effects.count(Stat::Rejects);
  effects.observe(session.key, Reject{dir, verb, reason, escapeLine(line, kLogLineCap)});
}

}  // namespace ftpalg
