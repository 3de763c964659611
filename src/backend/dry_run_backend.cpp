#include "dry_run_backend.hpp"

namespace ftpalg::backend {

Status<> DryRunBackend::open(const Pinhole& pinhole) {
  open_[pinhole.id] = pinhole;
  ++openedTotal_;
  return okStatus();
}

Status<> DryRunBackend::close(const Pinhole& pinhole, Reason /*reason*/) {
  open_.erase(pinhole.id);
  ++closedTotal_;
  return okStatus();
}

}  // namespace ftpalg::backend
