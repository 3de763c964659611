// The owner of --dry-run's copy table: see copy_table.hpp.
#include "copy_table.hpp"

#include <unistd.h>

#include "nft_script.hpp"
#include "pinhole_table.hpp"

namespace ftpalg::firewall {

namespace {

Status<> createTable(const CopyRuleSpec& spec) {
  const std::string script = "add table inet " + spec.table + "\ndelete table inet " + spec.table + "\n" +
                             nftCopyTableScript(spec, std::to_string(::getpid()));
  if (auto created = runNftScript(script); !created) {
    return Err("creating nft table inet " + spec.table + ": " + created.error());
  }
  return okStatus();
}

}  // namespace

Result<CopyTable> CopyTable::create(const CopyRuleSpec& spec) {
  NftTableSpec asPinholeTable;
  asPinholeTable.table = spec.table;
  // The same ownership rule as for the pinhole table ("ftpalg pid=N" comment).
  if (auto free = checkPinholeTableFree(asPinholeTable); !free) return Err(free.error());
  if (auto created = createTable(spec); !created) return Err(created.error());
  return CopyTable(spec);
}

CopyTable::~CopyTable() { (void)remove(); }

Status<> CopyTable::recreate() {
  if (!owned_) return Err("nft table inet " + spec_.table + " was removed at stop; not recreated");
  return createTable(spec_);
}

Status<> CopyTable::verify() const {
  auto existing = inspectTable(spec_.table);
  if (!existing) return Err("inspecting nft table inet " + spec_.table + ": " + existing.error());
  if (!existing->exists) return Err("nft table inet " + spec_.table + " does not exist");
  if (existing->ownerPid != ::getpid()) return Err("nft table inet " + spec_.table + " is not this ftpalg's");
  return okStatus();
}

Status<> CopyTable::remove() {
  if (!owned_) return okStatus();
  owned_ = false;
  // nft delete table inet ftpalg_dryrun
  if (auto removed = runNftScript("delete table inet " + spec_.table + "\n");
      !removed && !isNoSuchObject(removed.error())) {
    return Err("deleting nft table inet " + spec_.table + ": " + removed.error());
  }
  return okStatus();
}

}  // namespace ftpalg::firewall
