// The pinhole table's owner: `ftpalg run` creates `table inet ftpalg` (pinhole_rules.hpp has its
// text) once at start and deletes it when the PinholeTable is destroyed, after every engine has
// closed its pinholes. The per-queue backends (backend/nft_backend.hpp) only add and delete
// elements in it.
#pragma once

#include <optional>
#include <string>

#include "ftpalg/core/result.hpp"
#include "pinhole_rules.hpp"
#include "ruleset_watch.hpp"

namespace ftpalg::firewall {

// An existing table of that name, and the pid in its "ftpalg pid=N" comment.
struct ExistingTable {
  bool exists = false;
  std::optional<int> ownerPid;
};
Result<ExistingTable> inspectTable(const std::string& table);

// The start-up precondition, before any packet is touched: an error when the table exists and
// is someone else's (no "ftpalg pid=" comment) or a running ftpalg's. A table left by a dead
// ftpalg is no obstacle (create() replaces it): its pid is returned, for the log.
Result<std::optional<int>> checkPinholeTableFree(const NftTableSpec& spec);

class PinholeTable {
 public:
  // Creates the table, replacing a stale copy in the same transaction:
  //   nft add table inet ftpalg; nft delete table inet ftpalg; nft -f <nftTableScript()>
  static Result<PinholeTable> create(const NftTableSpec& spec);

  PinholeTable(PinholeTable&& other) noexcept : spec_(std::move(other.spec_)), owned_(other.owned_) {
    other.owned_ = false;
  }
  PinholeTable& operator=(PinholeTable&&) = delete;
  PinholeTable(const PinholeTable&) = delete;
  ~PinholeTable();  // remove()

  const NftTableSpec& spec() const { return spec_; }

  // After a firewall reload deleted the table or part of it (src/app/firewall_guard.hpp): the
  // same transaction as create() (add, delete, the table), so a half-deleted table is replaced
  // whole. The table is empty afterwards: the engines' pending pinholes are added again by their
  // backends (Engine::pinholes()).
  Status<> recreate();
  // The table exists and names this process as its owner ("ftpalg pid=N"). Changes nothing.
  Status<> verify() const;
  // The table, for the firewall-reload watch: ftpalg owns all of it.
  WatchedTable watched() const { return WatchedTable{FirewallPart::OwnTable, kFamilyInet, spec_.table, {}}; }

  // `nft delete table inet ftpalg` (every pinhole with it) now, for a caller that reports the
  // error; idempotent, and a table already gone (a ruleset flush) is not an error.
  Status<> remove();

 private:
  explicit PinholeTable(NftTableSpec spec) : spec_(std::move(spec)), owned_(true) {}
  NftTableSpec spec_;
  bool owned_ = false;
};

}  // namespace ftpalg::firewall
