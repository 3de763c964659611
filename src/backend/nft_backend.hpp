// NftBackend: pinholes as elements of the daemon's own nft table, `table inet ftpalg`
// (firewall/pinhole_rules.hpp has the table; firewall/pinhole_table.hpp creates it at start and
// deletes it at exit). A pinhole is a map element (who may connect to what, and where it really
// goes) plus a single-use "armed" token in the set next to it.
//
// Per-pinhole add/delete: libnftnl + libmnl, map element and armed token in ONE netlink batch
// (atomic), synchronous: open() returns after the kernel acknowledged, so the pinhole exists
// before the announcing packet's verdict.
//
// Not thread-safe: one NftBackend per engine thread (each has its own netlink socket); the
// backends of all queues use the one table, and none of them creates or deletes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "firewall/pinhole_rules.hpp"
#include "ftpalg/core/result.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::backend {

class NftBackend final : public PinholeBackend {
 public:
  // A backend on the existing table `spec.table` (a PinholeTable's): opens the netlink socket
  // for element batches and probes whether the kernel knows NFT_MSG_DESTROYSETELEM.
  static Result<std::unique_ptr<NftBackend>> attach(const firewall::NftTableSpec& spec);

  ~NftBackend() override;
  NftBackend(const NftBackend&) = delete;
  NftBackend& operator=(const NftBackend&) = delete;

  // `nft add element inet ftpalg pinholes4 { FROM . TO . PORT timeout Ns : NATTO . NATPORT }`
  // + `nft add element inet ftpalg armed4 { FROM . TO . PORT timeout Ns }`, one batch.
  Status<> open(const Pinhole& pinhole) override;
  // `nft delete element inet ftpalg pinholes4 { FROM . TO . PORT }` + the same in armed4.
  // An element already gone (used, expired) is not an error.
  Status<> close(const Pinhole& pinhole, Reason reason) override;

 private:
  struct Impl;
  explicit NftBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ftpalg::backend
