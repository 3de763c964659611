// Process-level facilities of `ftpalg run`: privilege checks and the drop to least privilege,
// and the per-network-namespace run lock (one `ftpalg run` per namespace).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

// True when CAP_NET_ADMIN is in the effective set (root normally has it).
bool hasNetAdminCapability();

// The account of --user, looked up once, before anything is installed.
struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;  // its primary group, the only group ftpalg keeps
};

// --user NAME: the account exists (the error names it and says how to find accounts).
Result<Account> lookUpAccount(const std::string& name);

// --user with --log FILE: the account may create FILE anew in its directory (write and search
// permission by owner, primary group or others; ACLs are not consulted), which reopening the log
// after rotation (SIGHUP, after the privilege drop) needs. The error names the directory, its
// owner and mode, and the fix. Nothing to check for root or for standard output ("-").
Status<> checkAccountCanReopenLog(const Account& account, const std::string& logPath);

// After setup: keep only CAP_NET_ADMIN (and CAP_NET_RAW when `keepNetRaw`, for iptables-legacy
// at shutdown) in the permitted, effective, inheritable, ambient and bounding sets, set
// no_new_privs, and switch to `account` when given (its primary group, no supplementary groups).
// Commands run at shutdown (iptables) inherit the kept capabilities through the ambient set.
Status<> dropPrivileges(const std::optional<Account>& account, bool keepNetRaw);

// An exclusive lock, per network namespace, held for the life of the daemon:
// /run/ftpalg/run-<netns inode>.lock with the holder's pid inside.
class RunLock {
 public:
  static Result<RunLock> acquire();
  RunLock(RunLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  RunLock(const RunLock&) = delete;
  ~RunLock();
  const std::string& path() const { return path_; }

 private:
  RunLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace ftpalg::app
