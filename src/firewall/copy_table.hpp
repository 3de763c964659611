// The owner of --dry-run's copy table (copy_rules.hpp has its text): created once the NFLOG
// group is bound, deleted at exit, recreated after a firewall reload (src/app/firewall_guard.hpp).
#pragma once

#include <optional>
#include <string>

#include "copy_rules.hpp"
#include "ftpalg/core/result.hpp"
#include "ruleset_watch.hpp"

namespace ftpalg::firewall {

class CopyTable {
 public:
  // Refuses a table of that name that is someone else's or a running ftpalg's; replaces a dead
  // ftpalg's (add table; delete table; the table, in one transaction).
  static Result<CopyTable> create(const CopyRuleSpec& spec);

  CopyTable(CopyTable&& other) noexcept : spec_(std::move(other.spec_)), owned_(other.owned_) {
    other.owned_ = false;
  }
  CopyTable& operator=(CopyTable&&) = delete;
  CopyTable(const CopyTable&) = delete;
  ~CopyTable();  // remove()

  const CopyRuleSpec& spec() const { return spec_; }
  Status<> recreate();
  Status<> verify() const;
  WatchedTable watched() const { return WatchedTable{FirewallPart::CopyRules, kFamilyInet, spec_.table, {}}; }
  // nft delete table inet ftpalg_dryrun; a table already gone is not an error.
  Status<> remove();

 private:
  explicit CopyTable(CopyRuleSpec spec) : spec_(std::move(spec)), owned_(true) {}
  CopyRuleSpec spec_;
  bool owned_ = false;
};

}  // namespace ftpalg::firewall
