// NftBackend: pinholes as elements of the daemon's own nft table (DESIGN.md §3).
//
// The table (created once at startup with libnftables, never on the packet path):
//
//   table inet ftpalg {
//     comment "ftpalg pid=<pid>"
//     map pinholes4 { type ipv4_addr . ipv4_addr . inet_service : ipv4_addr . inet_service; flags timeout; }
//     set armed4    { type ipv4_addr . ipv4_addr . inet_service; flags dynamic,timeout; }
//     map pinholes6 { ... ipv6_addr ... }   set armed6 { ... }
//     chain pre_dnat { type nat hook prerouting priority dstnat - 1; policy accept;
//       meta l4proto tcp ip saddr . ip daddr . tcp dport @armed4
//           delete @armed4 { ip saddr . ip daddr . tcp dport } ct mark set ct mark or 0x00010000
//       ct mark and 0x00010000 == 0x00010000 dnat ip to ip saddr . ip daddr . tcp dport map @pinholes4
//       (the same two rules for ip6) }
//   }
//
// Key = (peer that will connect, address it connects to, port); value = where the connection
// really goes. The "armed" token makes a pinhole single-use: the first NEW connection that matches
// deletes it and takes the mark; the admin's forward chain accepts the mark with one rule
// (`ct mark and 0x00010000 == 0x00010000 accept`, printed by `ftpalg rules`).
//
// Per-pinhole add/delete: libnftnl + libmnl, map element and armed token in ONE netlink batch
// (atomic), synchronous: open() returns after the kernel acknowledged, so the pinhole exists
// before the announcing packet's verdict.
//
// Not thread-safe: one NftBackend per engine thread (each has its own netlink socket); several
// backends may share the table (only the owner creates and deletes it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::backend {

inline constexpr std::uint32_t kPinholeMark = 0x00010000;

// Queue rules expressed in nft, in a table of their own (`table inet ftpalg_queue`), used only
// where the kernel has the nft `queue` expression (CONFIG_NFT_QUEUE; this machine's kernel does
// not: see nftKernelHasQueue()). Elsewhere the runner installs iptables NFQUEUE rules.
struct NftQueueRules {
  std::vector<std::uint16_t> controlPorts;
  std::uint16_t queueNum = 0;
  std::uint16_t queueCount = 1;  // > 1: queue chosen by a hash of the server's real address
  bool bypass = true;            // fail open: `queue ... bypass`
};

inline constexpr const char* kQueueTable = "ftpalg_queue";

struct NftTableSpec {
  std::string table = "ftpalg";          // family is always inet
  std::uint32_t mark = kPinholeMark;     // the ct mark bit the admin's rule accepts
  std::uint32_t armedSetSize = 262144;   // `size` of armed4/armed6 (dynamic sets need one)
};

// The nft script that creates the pinhole table (without the leading flush), as `run` installs
// it and `ftpalg rules` shows it.
std::string nftTableScript(const NftTableSpec& spec);

// The nft script of the queue table (`table inet ftpalg_queue { chain c2s_queue ...;
// chain s2c_queue ... }`), for `ftpalg rules` and for `run` where nft `queue` exists.
std::string nftQueueTableScript(const NftQueueRules& rules);

// True when this kernel accepts the nft `queue` expression: probed by adding a queue rule to a
// regular chain of a temporary table (`inet ftpalg_probe`), which is then deleted. No packet
// ever reaches the probe.
Result<bool> nftKernelHasQueue();

// Runs an nft script through libnftables (startup and shutdown only, never on the packet path).
// `output` receives the command output (e.g. for `list ruleset`). The error names the script's
// first line and nft's message.
Status<> runNftScript(const std::string& script, std::string* output = nullptr);

// Who owns an existing table: the pid recorded in its comment, when the table exists.
struct ExistingTable {
  bool exists = false;
  std::optional<int> ownerPid;  // from comment "ftpalg pid=N"
};
Result<ExistingTable> inspectTable(const std::string& table);

class NftBackend final : public PinholeBackend {
 public:
  // Creates the table (flushing a stale copy: `delete table inet ftpalg` first when it exists)
  // and opens the netlink socket for element batches. The caller has already checked that no
  // live ftpalg owns an existing table (inspectTable()).
  static Result<std::unique_ptr<NftBackend>> create(const NftTableSpec& spec);
  // A backend on an existing table (another engine thread of the same daemon): does not create
  // or delete the table.
  static Result<std::unique_ptr<NftBackend>> attach(const NftTableSpec& spec);

  ~NftBackend() override;  // deletes the table when owned (removeTable())
  NftBackend(const NftBackend&) = delete;
  NftBackend& operator=(const NftBackend&) = delete;

  // `nft add element inet ftpalg pinholes4 { FROM . TO . PORT timeout Ns : NATTO . NATPORT }`
  // + `nft add element inet ftpalg armed4 { FROM . TO . PORT timeout Ns }`, one batch.
  Status<> open(const Pinhole& pinhole) override;
  // `nft delete element inet ftpalg pinholes4 { FROM . TO . PORT }` + the same in armed4.
  // An element already gone (used, expired) is not an error.
  Status<> close(const Pinhole& pinhole, Reason reason) override;

  // `nft delete table inet ftpalg` (idempotent). Called on shutdown; also by the destructor.
  Status<> removeTable();

  struct Counters {
    std::uint64_t opened = 0;
    std::uint64_t closed = 0;
    std::uint64_t alreadyGone = 0;  // close() of an element the kernel no longer had
    std::uint64_t errors = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Impl;
  explicit NftBackend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  Counters counters_;
};

}  // namespace ftpalg::backend
