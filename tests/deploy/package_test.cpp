// The Debian package, as an admin gets it: built by cpack from this build directory, installed
// with `dpkg -i` on this machine, checked, and purged again (`dpkg --purge`). dpkg --root into
// an empty directory was not used: it cannot check the Depends against the real system (it
// would need --force-depends) and runs the maintainer scripts chrooted where there is no shell.
// The test skips when a package named ftpalg is installed already (not its own to remove).
//
// Checked against independent statements of what must be, not against the package's own
// listing: Debian's locations (binary in /usr/sbin, gzip'd man pages in /usr/share/man,
// configuration in /etc, the unit in /lib/systemd/system, documents in /usr/share/doc/ftpalg);
// the runtime dependencies cover every shared library the binary needs (its DT_NEEDED entries,
// each mapped to its package with dpkg -S) plus iptables; both man pages render without a groff
// warning; `systemd-analyze verify` accepts the installed unit (whose Documentation= names the
// installed pages); the installed binary reads the installed sample config, and runs with it in
// a lab router (tests/e2e/run-scenario.sh) where active-mode FTP works through it.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../e2e/scenario_support.hpp"

namespace {

namespace fs = std::filesystem;

struct CommandRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

CommandRun run(const std::string& command) {
  CommandRun result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

std::string quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool packageInstalled() {
  return run("dpkg-query -W -f='${Status}' ftpalg").output.find("install ok installed") != std::string::npos;
}

class Package : public ::testing::Test {
 protected:
  void SetUp() override {
    FTPALG_E2E_SKIP_UNLESS_ROOT("dpkg -i");
    // As root a skip would let the run go green untested (no_skip_under_root.hpp): fail instead,
    // still without touching the installed package.
    ASSERT_FALSE(packageInstalled()) << "a package named ftpalg is installed already; not removing it";
    char pattern[] = "/tmp/ftpalg-package-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (installed_) {
      const CommandRun purge = run("dpkg --purge ftpalg");
      EXPECT_EQ(purge.status, 0) << purge.output;
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
  bool installed_ = false;
};

TEST_F(Package, BuildsInstallsWhereDebianExpectsAndPurges) {
  // 1. Build the .deb from this build directory.
  const CommandRun cpack =
      run("cpack -G DEB --config " + quote(std::string(FTPALG_BUILD_DIR) + "/CPackConfig.cmake") + " -B " +
          quote(dir_.string()));
  ASSERT_EQ(cpack.status, 0) << cpack.output;
  std::vector<fs::path> debs;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() == ".deb") debs.push_back(entry.path());
  }
  ASSERT_EQ(debs.size(), 1u) << cpack.output;
  const std::string deb = quote(debs.front().string());

  // 2. Its dependencies: a package for each library the binary needs, and iptables.
  const std::string depends = run("dpkg-deb -f " + deb + " Depends").output;
  std::set<std::string> dependedOn;
  static const std::regex kName(R"((?:^|,\s*)([a-z0-9][a-z0-9.+-]+))");
  for (auto it = std::sregex_iterator(depends.begin(), depends.end(), kName); it != std::sregex_iterator();
       ++it) {
    dependedOn.insert((*it)[1]);
  }
  EXPECT_EQ(dependedOn.count("iptables"), 1u) << depends;
  const CommandRun needed =
      run("objdump -p " + quote(FTPALG_BINARY) + " | awk '$1 == \"NEEDED\" { print $2 }'");
  ASSERT_EQ(needed.status, 0) << needed.output;
  const CommandRun resolved = run("ldd " + quote(FTPALG_BINARY));
  std::size_t libraries = 0;
  for (const std::string& soname : lines(needed.output)) {
    static const std::regex kResolved(R"(^\s*(\S+) => (\S+) )");
    std::string path;
    for (const std::string& line : lines(resolved.output)) {
      std::smatch match;
      if (std::regex_search(line, match, kResolved) && match[1] == soname) path = match[2];
    }
    ASSERT_FALSE(path.empty()) << soname << " not resolved:\n" << resolved.output;
    // dpkg -S knows the path under /usr/lib on a merged-/usr system too.
    CommandRun owner = run("dpkg -S " + quote(path));
    if (owner.status != 0) owner = run("dpkg -S " + quote("/usr" + path));
    ASSERT_EQ(owner.status, 0) << owner.output;
    const std::string package = owner.output.substr(0, owner.output.find_first_of(":,"));
    EXPECT_EQ(dependedOn.count(package), 1u)
        << soname << " (" << package << ") missing from Depends: " << depends;
    ++libraries;
  }
  EXPECT_GE(libraries, 6u) << needed.output;

  // 3. Install it on this machine.
  const CommandRun install = run("dpkg -i " + deb);
  installed_ = packageInstalled();
  ASSERT_EQ(install.status, 0) << install.output;
  ASSERT_TRUE(installed_);

  // 4. Files where Debian expects them.
  struct Expected {
    std::string path;
    mode_t mode;
  };
  for (const Expected& file : std::vector<Expected>{
           {"/usr/sbin/ftpalg", 0755},
           {"/usr/share/man/man8/ftpalg.8.gz", 0644},
           {"/usr/share/man/man5/ftpalg.conf.5.gz", 0644},
           {"/etc/ftpalg/ftpalg.conf", 0644},
           {"/etc/logrotate.d/ftpalg", 0644},
           {"/lib/systemd/system/ftpalg.service", 0644},
           {"/usr/share/doc/ftpalg/README.md", 0644},
           {"/usr/share/doc/ftpalg/admin-guide.md", 0644},
           {"/usr/share/doc/ftpalg/log-schema.md", 0644},
           {"/var/log/ftpalg", 0750},
       }) {
    struct stat info {};
    ASSERT_EQ(::stat(file.path.c_str(), &info), 0) << file.path;
    EXPECT_EQ(info.st_mode & 07777, file.mode) << file.path;
    EXPECT_EQ(info.st_uid, 0u) << file.path;
  }
  const std::string conffiles = run("dpkg-query -W -f='${Conffiles}' ftpalg").output;
  EXPECT_NE(conffiles.find("/etc/ftpalg/ftpalg.conf"), std::string::npos) << conffiles;
  EXPECT_NE(conffiles.find("/etc/logrotate.d/ftpalg"), std::string::npos) << conffiles;

  // 5. Both man pages render without a warning; man finds them by name.
  for (const std::string page : {"/usr/share/man/man8/ftpalg.8.gz", "/usr/share/man/man5/ftpalg.conf.5.gz"}) {
    const CommandRun rendered = run("{ man --warnings -l " + std::string(page) + " >/dev/null; }");
    EXPECT_EQ(rendered.status, 0) << page;
    EXPECT_EQ(rendered.output, "") << page;
  }
  EXPECT_EQ(run("man -w 8 ftpalg").output, "/usr/share/man/man8/ftpalg.8.gz\n");
  EXPECT_EQ(run("man -w 5 ftpalg.conf").output, "/usr/share/man/man5/ftpalg.conf.5.gz\n");

  // 6. The unit: its paths are the installed files, and systemd-analyze accepts it.
  std::ifstream unitFile("/lib/systemd/system/ftpalg.service");
  std::string unit((std::istreambuf_iterator<char>(unitFile)), std::istreambuf_iterator<char>());
  EXPECT_NE(unit.find("\nExecStart=/usr/sbin/ftpalg run --config /etc/ftpalg/ftpalg.conf\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(unit.find("\nType=notify\n"), std::string::npos);
  EXPECT_NE(unit.find("\nRestartPreventExitStatus=2\n"), std::string::npos);
  static const std::regex kDocumentation(R"(\nDocumentation=([^\n]*)\n)");
  std::smatch documentation;
  ASSERT_TRUE(std::regex_search(unit, documentation, kDocumentation)) << unit;
  std::size_t documents = 0;
  for (std::string item : lines(std::regex_replace(std::string(documentation[1]), std::regex(" "), "\n"))) {
    ++documents;
    if (item.starts_with("file://")) {
      EXPECT_TRUE(fs::exists(item.substr(7))) << item;
    } else {
      std::smatch man;
      ASSERT_TRUE(std::regex_match(item, man, std::regex(R"(man:([a-z.]+)\(([0-9])\))"))) << item;
      EXPECT_EQ(run("man -w " + std::string(man[2]) + " " + std::string(man[1])).status, 0) << item;
    }
  }
  EXPECT_EQ(documents, 3u);
  if (run("command -v systemd-analyze").status == 0) {
    const CommandRun verify = run("systemd-analyze verify /lib/systemd/system/ftpalg.service");
    EXPECT_EQ(verify.status, 0) << verify.output;
    EXPECT_EQ(verify.output, "");
  }

  // 7. The installed binary reads the installed sample config.
  const CommandRun printed = run("/usr/sbin/ftpalg run --config /etc/ftpalg/ftpalg.conf --print-config");
  EXPECT_EQ(printed.status, 0) << printed.output;
  EXPECT_NE(printed.output.find("log = /var/log/ftpalg/decisions.jsonl\n"), std::string::npos)
      << printed.output;

  // 8. The installed binary with the installed configuration in a lab router, started the way the
  //    unit starts it (its notification socket given): active-mode FTP behind masquerade works
  //    through it, and it reported READY=1 and, at its stop, STOPPING=1. (The lab passes its own
  //    --log, which replaces the sample's.)
  {
    const std::string socketPath = (dir_ / "notify.sock").string();
    const int receiver = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(receiver, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socketPath.c_str());
    ASSERT_EQ(::bind(receiver, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    ::setenv("FTPALG_BIN", "/usr/sbin/ftpalg", 1);
    const auto scenario = ftpalg::e2e::runScenario(
        "masq vsftpd curl port --ftpalg live --ftpalg-arg --config --ftpalg-arg "
        "/etc/ftpalg/ftpalg.conf",
        "NOTIFY_SOCKET=" + quote(socketPath));
    ::unsetenv("FTPALG_BIN");
    EXPECT_EQ(scenario.status, "pass") << scenario.output;
    EXPECT_GE(scenario.num("rewrites"), 1) << scenario.output;
    std::string notifications;
    char buffer[4096];
    for (ssize_t got; (got = ::recv(receiver, buffer, sizeof buffer, MSG_DONTWAIT)) > 0;) {
      notifications.append(buffer, static_cast<std::size_t>(got)).push_back('\n');
    }
    ::close(receiver);
    const auto ready = notifications.find("READY=1");
    const auto stopping = notifications.find("STOPPING=1");
    EXPECT_NE(ready, std::string::npos) << notifications;
    EXPECT_NE(stopping, std::string::npos) << notifications;
    EXPECT_LT(ready, stopping) << notifications;
  }

  // 9. Purge: nothing of it is left.
  const CommandRun purge = run("dpkg --purge ftpalg");
  EXPECT_EQ(purge.status, 0) << purge.output;
  installed_ = packageInstalled();
  for (const std::string path : {"/usr/sbin/ftpalg", "/etc/ftpalg", "/lib/systemd/system/ftpalg.service",
                                 "/usr/share/man/man8/ftpalg.8.gz", "/var/log/ftpalg"}) {
    EXPECT_FALSE(fs::exists(path)) << path;
  }
}

}  // namespace
