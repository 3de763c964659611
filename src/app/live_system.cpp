#include "live_system.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

namespace ftpalg::app {

namespace {

struct CapSets {
  __user_cap_data_struct data[2]{};
};

bool capGet(CapSets& sets) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &header, sets.data) == 0;
}
bool capSet(const CapSets& sets) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capset, &header, sets.data) == 0;
}
void addCap(CapSets& sets, int cap) {
  const int index = cap / 32;
  const std::uint32_t bit = 1u << (cap % 32);
  sets.data[index].permitted |= bit;
  sets.data[index].effective |= bit;
  sets.data[index].inheritable |= bit;
}

int lastCap() {
  std::ifstream file("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  if (!(file >> last)) last = CAP_LAST_CAP;
  return last;
}

std::string errnoText() { return std::strerror(errno); }

}  // namespace

bool hasNetAdminCapability() {
  CapSets sets;
  if (!capGet(sets)) return false;
  return (sets.data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

Result<Account> lookUpAccount(const std::string& name) {
  errno = 0;
  const passwd* account = ::getpwnam(name.c_str());
  if (account == nullptr) {
    return Err("--user: \"" + name + "\": no such account" +
               (errno != 0 ? " (" + errnoText() + ")" : std::string("; `getent passwd` lists them")));
  }
  return Account{name, account->pw_uid, account->pw_gid};
}

Status<> checkAccountCanReopenLog(const Account& account, const std::string& logPath) {
  if (account.uid == 0 || logPath == "-") return okStatus();
  const std::size_t slash = logPath.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : logPath.substr(0, slash));
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) {
    return Err("--log: \"" + logPath + "\": directory " + directory + ": " + errnoText());
  }
  mode_t needed = S_IWOTH | S_IXOTH;
  if (info.st_uid == account.uid) {
    needed = S_IWUSR | S_IXUSR;
  } else if (info.st_gid == account.gid) {
    needed = S_IWGRP | S_IXGRP;
  }
  if ((info.st_mode & needed) == needed) return okStatus();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
  return Err("--user " + account.name + " cannot create files in " + directory + " (owner uid " +
             std::to_string(info.st_uid) + ", gid " + std::to_string(info.st_gid) + ", mode " + mode +
             "), so it could not reopen --log " + logPath +
             " after log rotation (SIGHUP); make the directory writable by " + account.name + " (chown " +
             account.name + " " + directory + ") or log elsewhere");
}

Status<> dropPrivileges(const std::optional<Account>& account, bool keepNetRaw) {
  std::vector<int> keep{CAP_NET_ADMIN};
  if (keepNetRaw) keep.push_back(CAP_NET_RAW);

  // Bounding set first (needs CAP_SETPCAP, which is dropped below): even a root child started
  // later (iptables at shutdown) gets no more than the kept capabilities. Without CAP_SETPCAP
  // (started unprivileged with ambient CAP_NET_ADMIN, e.g. by systemd) the bounding set the
  // service manager gave is kept as it is.
  CapSets current;
  const bool canDropBounding =
      capGet(current) && (current.data[CAP_SETPCAP / 32].effective & (1u << (CAP_SETPCAP % 32))) != 0;
  for (int cap = 0; canDropBounding && cap <= lastCap(); ++cap) {
    bool kept = false;
    for (const int k : keep) kept = kept || k == cap;
    if (!kept && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return Err("dropping capability " + std::to_string(cap) + " from the bounding set: " + errnoText());
    }
  }

  if (account) {
    const uid_t uid = account->uid;
    const gid_t gid = account->gid;
    const std::string& user = account->name;
    // Keep the permitted set across setuid; the effective set is restored with capset below.
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Err("prctl(PR_SET_KEEPCAPS): " + errnoText());
    if (::setgroups(0, nullptr) != 0) return Err("--user " + user + ": setgroups: " + errnoText());
    if (::setresgid(gid, gid, gid) != 0) return Err("--user " + user + ": setresgid: " + errnoText());
    if (::setresuid(uid, uid, uid) != 0) return Err("--user " + user + ": setresuid: " + errnoText());
  }

  CapSets sets;
  for (const int cap : keep) addCap(sets, cap);
  if (!capSet(sets)) return Err("capset (keep CAP_NET_ADMIN only): " + errnoText());
  // Ambient: commands run at shutdown (iptables) keep CAP_NET_ADMIN even as a non-root user.
  for (const int cap : keep) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      return Err("prctl(PR_CAP_AMBIENT_RAISE): " + errnoText());
    }
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Err("prctl(PR_SET_NO_NEW_PRIVS): " + errnoText());
  if (!hasNetAdminCapability()) return Err("CAP_NET_ADMIN lost while dropping privileges");
  return okStatus();
}

Result<RunLock> RunLock::acquire() {
  struct stat netns {};
  if (::stat("/proc/self/ns/net", &netns) != 0) return Err("stat /proc/self/ns/net: " + errnoText());
  const std::string dir = "/run/ftpalg";
  ::mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/run-" + std::to_string(netns.st_ino) + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Err("run lock " + path + ": " + errnoText());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char pid[32] = {};
    const ssize_t got = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (error == EWOULDBLOCK) {
      std::string holder = got > 0 ? std::string(pid, static_cast<std::size_t>(got)) : "?";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return Err("another `ftpalg run` (pid " + holder + ") is active in this network namespace (lock " +
                 path + ")");
    }
    return Err("run lock " + path + ": " + std::strerror(error));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock itself holds; the pid is only informative.
  }
  return RunLock(fd, path);
}

RunLock::~RunLock() {
  // Unlinked while still locked, so namespaces that come and go (tests) leave no files behind.
  // (A newcomer that opened the old file just now fails its non-blocking lock or locks an
  // unlinked file; only three simultaneous starts could then overlap.)
  if (fd_ >= 0) {
    ::unlink(path_.c_str());
    ::close(fd_);
  }
}

}  // namespace ftpalg::app
