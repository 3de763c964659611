// DryRunBackend: a real PinholeBackend that installs nothing (docs/design.md#dry-run: "dry-run is a backend
// and a sink, not a flag"). The engine runs exactly as in live mode; this backend only remembers
// which pinholes live mode would now have, so `--dry-run` can report them (stats, tests).
#pragma once

#include <cstdint>
#include <map>

#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::backend {

class DryRunBackend final : public PinholeBackend {
 public:
  // Live mode would run `nft add element inet ftpalg pinholes4 { ... }`; dry-run records it.
  Status<> open(const Pinhole& pinhole) override;
  // Live mode would run `nft delete element inet ftpalg pinholes4 { ... }`; dry-run forgets it.
  Status<> close(const Pinhole& pinhole, Reason reason) override;

  // The pinholes live mode would have installed now, by pinhole id.
  const std::map<std::uint64_t, Pinhole>& installed() const { return open_; }
  std::uint64_t openedTotal() const { return openedTotal_; }
  std::uint64_t closedTotal() const { return closedTotal_; }

 private:
  std::map<std::uint64_t, Pinhole> open_;
  std::uint64_t openedTotal_ = 0;
  std::uint64_t closedTotal_ = 0;
};

}  // namespace ftpalg::backend
