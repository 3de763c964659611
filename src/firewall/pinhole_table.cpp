// The pinhole table's owner: see pinhole_table.hpp.
#include "pinhole_table.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "nft_script.hpp"

namespace ftpalg::firewall {

namespace {

bool processIsFtpalg(int pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  return std::getline(comm, name) && name.rfind("ftpalg", 0) == 0;
}

}  // namespace

Result<ExistingTable> inspectTable(const std::string& table) {
  std::string output;
  // nft list table inet ftpalg
  const auto listed = runNftScript("list table inet " + table, &output);
  ExistingTable existing;
  if (!listed) {
    if (isNoSuchObject(listed.error())) return existing;
    return Err(listed.error());
  }
  existing.exists = true;
  existing.ownerPid = tableOwnerPid(output);
  return existing;
}

Result<std::optional<int>> checkPinholeTableFree(const NftTableSpec& spec) {
  const std::string name = "nft table inet " + spec.table;
  auto existing = inspectTable(spec.table);
  if (!existing) return Err("inspecting " + name + ": " + existing.error());
  if (!existing->exists) return std::optional<int>();
  if (!existing->ownerPid) {
    return Err(name +
               " exists and was not created by ftpalg (no \"ftpalg pid=\" comment): ftpalg manages that "
               "table itself; rename or delete yours (nft delete table inet " +
               spec.table + ")");
  }
  const int pid = *existing->ownerPid;
  if (pid != ::getpid() && ::kill(pid, 0) == 0 && processIsFtpalg(pid)) {
    return Err(name + " belongs to a running ftpalg (pid " + std::to_string(pid) + "): stop it first");
  }
  return std::optional<int>(pid);
}

namespace {

// One transaction: `add table` makes the `delete table` of a stale copy always valid, so a table
// left by a crash (or half deleted by a reload) is flushed and recreated atomically.
Status<> createTable(const NftTableSpec& spec) {
  const std::string script = "add table inet " + spec.table + "\n" + "delete table inet " + spec.table +
                             "\n" + nftTableScript(spec, std::to_string(::getpid()));
  if (const auto created = runNftScript(script); !created) {
    return Err("creating nft table inet " + spec.table + ": " + created.error());
  }
  return okStatus();
}

}  // namespace

Result<PinholeTable> PinholeTable::create(const NftTableSpec& spec) {
  if (auto created = createTable(spec); !created) return Err(created.error());
  return PinholeTable(spec);
}

Status<> PinholeTable::recreate() {
  if (!owned_) return Err("nft table inet " + spec_.table + " was removed at stop; not recreated");
  return createTable(spec_);
}

Status<> PinholeTable::verify() const {
  auto existing = inspectTable(spec_.table);
  if (!existing) return Err("inspecting nft table inet " + spec_.table + ": " + existing.error());
  if (!existing->exists) return Err("nft table inet " + spec_.table + " does not exist");
  if (existing->ownerPid != ::getpid()) {
    return Err("nft table inet " + spec_.table +
               " is not this ftpalg's (no \"ftpalg pid=" + std::to_string(::getpid()) + "\" comment)");
  }
  return okStatus();
}

PinholeTable::~PinholeTable() { (void)remove(); }

Status<> PinholeTable::remove() {
  if (!owned_) return okStatus();
  owned_ = false;
  // nft delete table inet ftpalg
  if (auto removed = runNftScript("delete table inet " + spec_.table + "\n");
      !removed && !isNoSuchObject(removed.error())) {
    return Err("deleting nft table inet " + spec_.table + ": " + removed.error());
  }
  return okStatus();
}

}  // namespace ftpalg::firewall
