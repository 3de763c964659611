#include "recording_session_port.hpp"

namespace ftpalg::backend {

Status<> RecordingSessionPort::adjustSequence(const AdjustKernelSequence& adjust) {
  records_[{adjust.control, adjust.direction}] = adjust.record;
  ++adjustments_;
  return okStatus();
}

Status<> RecordingSessionPort::markDialogVerified(const MarkDialogVerified& mark) {
  verified_.insert(mark.control);
  return okStatus();
}

}  // namespace ftpalg::backend
