// `ftpalg run` under systemd's notification protocol (sd_notify(3)), without systemd: this test is
// the service manager. It binds the AF_UNIX datagram socket, passes it as $NOTIFY_SOCKET (with
// $WATCHDOG_USEC) to `ftpalg run` in a network namespace of its own, and checks, from the
// datagrams and their senders' credentials (SO_PASSCRED, as systemd identifies the main pid):
//  - READY=1 comes from the main process, after STATUS= lines, and only once the queue rules and
//    the nft table are in place: the test stops ftpalg (SIGSTOP) the moment READY=1 arrives and
//    lists the firewall before letting it go on;
//  - WATCHDOG=1 arrives every half of WATCHDOG_USEC, never later than the timeout;
//  - a stuck worker thread (stopped alone with ptrace) stops the pings and sets STATUS=stuck...;
//    the pings come back when it runs again;
//  - SIGTERM sends STOPPING=1 and exits 0;
//  - an abstract socket name ("@...", created inside the namespace) works too;
//  - configuration errors (a bad value, an unknown --user, a log directory --user cannot write)
//    exit with status 2 (the unit's RestartPreventExitStatus=2) and never send READY=1.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
// When the kernel queued a datagram (SO_TIMESTAMPNS): the test's own scheduling delays do not
// move it.
using Wall = std::chrono::system_clock;
using namespace std::chrono_literals;

std::string shellOutput(const std::string& command, int* status = nullptr) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int raw = ::pclose(pipe);
  if (status != nullptr) *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Notification {
  std::string text;
  pid_t sender = 0;
  Wall::time_point at;
};

// The service manager's end: a datagram socket with SO_PASSCRED (each datagram's sender pid) and
// SO_TIMESTAMPNS (when it arrived).
class NotifyReceiver {
 public:
  // `name`: a path, or "@name" for the abstract namespace of the current thread's network
  // namespace.
  explicit NotifyReceiver(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name.front() == '@') {
      address.sun_path[0] = '\0';
    } else {
      ++length;
    }
    const int one = 1;
    ok_ = fd_ >= 0 && ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0 &&
          ::setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) == 0 &&
          ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) == 0;
    if (!ok_) error_ = std::strerror(errno);
  }
  ~NotifyReceiver() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  // The next datagram within `timeout`.
  std::optional<Notification> next(std::chrono::milliseconds timeout) {
    pollfd waiter{fd_, POLLIN, 0};
    if (::poll(&waiter, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char data[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(timespec))];
    iovec vector{data, sizeof data};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = ::recvmsg(fd_, &message, 0);
    if (got < 0) return std::nullopt;
    Notification notification{std::string(data, static_cast<std::size_t>(got)), 0, Wall::now()};
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
        notification.sender = credentials.pid;
      }
      if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_TIMESTAMPNS) {
        timespec arrived{};
        std::memcpy(&arrived, CMSG_DATA(header), sizeof arrived);
        notification.at = Wall::time_point(std::chrono::duration_cast<Wall::duration>(
            std::chrono::seconds(arrived.tv_sec) + std::chrono::nanoseconds(arrived.tv_nsec)));
      }
    }
    return notification;
  }

  // Datagrams until one contains `wanted` (returned) or `timeout` passes; the others are kept.
  std::optional<Notification> waitFor(const std::string& wanted, std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      auto notification = next(std::max(left, 1ms));
      if (!notification) break;
      seen.push_back(*notification);
      if (notification->text.find(wanted) != std::string::npos) return notification;
    }
    return std::nullopt;
  }

  std::vector<Notification> seen;

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string error_;
};

class SystemdNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nft, iptables)";
    namespace_ = "ftpalg-notify-" + std::to_string(::getpid());
    char pattern[] = "/tmp/ftpalg-notify-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    int status = 0;
    const std::string output = shellOutput(
        "ip netns add " + namespace_ + " && ip netns exec " + namespace_ + " ip link set lo up", &status);
    ASSERT_EQ(status, 0) << output;
    created_ = true;
  }
  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    if (created_) shellOutput("ip netns del " + namespace_);
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Starts `ftpalg run ARGS` in the namespace with `environment` added; stdout and stderr go to
  // files in the scratch directory.
  void start(const std::vector<std::string>& environment, const std::vector<std::string>& args) {
    std::vector<std::string> words{"/usr/sbin/ip", "netns", "exec", namespace_, "/usr/bin/env"};
    words.insert(words.end(), environment.begin(), environment.end());
    words.push_back(FTPALG_BINARY);
    words.push_back("run");
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, (dir_ / "stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, (dir_ / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    const int spawned = ::posix_spawn(&child_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(spawned, 0) << std::strerror(spawned);
  }

  // Waits (bounded) for the child to exit; its exit status, or -1.
  int waitExit(std::chrono::seconds bound) {
    const auto until = Clock::now() + bound;
    while (Clock::now() < until) {
      int status = 0;
      const pid_t done = ::waitpid(child_, &status, WNOHANG);
      if (done == child_) {
        child_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  std::string inNamespace(const std::string& command, int* status = nullptr) {
    return shellOutput("ip netns exec " + namespace_ + " " + command, status);
  }
  std::string stderrText() const { return readFile(dir_ / "stderr.txt"); }

  // The tid of the thread named `name` in the child.
  std::optional<pid_t> thread(const std::string& name) {
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(child_) + "/task")) {
      std::string comm = readFile(task.path() / "comm");
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
      if (comm == name) return static_cast<pid_t>(std::stol(task.path().filename().string()));
    }
    return std::nullopt;
  }

  std::string namespace_;
  fs::path dir_;
  bool created_ = false;
  pid_t child_ = -1;
};

TEST_F(SystemdNotify, ReadyAfterTheRulesWatchdogWhileWorkersProgressStoppingAtTerm) {
  const std::string socketPath = (dir_ / "notify.sock").string();
  NotifyReceiver receiver(socketPath);
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  start({"NOTIFY_SOCKET=" + socketPath, "WATCHDOG_USEC=1000000"},
        {"--log", (dir_ / "decisions.jsonl").string()});

  // READY=1, and at that moment the rules and the table are there.
  const auto ready = receiver.waitFor("READY=1", 30s);
  ASSERT_TRUE(ready.has_value()) << stderrText();
  ASSERT_EQ(::kill(child_, SIGSTOP), 0);
  const std::string mangle = inNamespace("iptables-save -t mangle");
  const std::string raw = inNamespace("iptables-save -t raw");
  int tableStatus = -1;
  const std::string table = inNamespace("nft list table inet ftpalg", &tableStatus);
  ASSERT_EQ(::kill(child_, SIGCONT), 0);
  // The default, conntrack-owned layout: one chain in mangle FORWARD, both directions.
  EXPECT_NE(mangle.find("-A FORWARD -j ftpalg-ct"), std::string::npos) << mangle;
  EXPECT_NE(mangle.find("-A ftpalg-ct -p tcp -m tcp --dport 21"), std::string::npos) << mangle;
  EXPECT_NE(mangle.find("-A ftpalg-ct -p tcp -m tcp --sport 21"), std::string::npos) << mangle;
  EXPECT_NE(mangle.find("-j NFQUEUE"), std::string::npos) << mangle;
  EXPECT_EQ(raw.find("ftpalg-"), std::string::npos) << raw;
  EXPECT_EQ(tableStatus, 0) << table;
  EXPECT_EQ(ready->sender, child_) << "READY=1 must come from the main process";
  EXPECT_NE(ready->text.find("STATUS=running (live): queue 0"), std::string::npos) << ready->text;
  ASSERT_GE(receiver.seen.size(), 2u);
  EXPECT_TRUE(receiver.seen.front().text.starts_with("STATUS=starting")) << receiver.seen.front().text;

  // Watchdog: WATCHDOG_USEC=1 s, so a ping every 0.5 s and never a gap of 1 s.
  std::vector<Wall::time_point> pings;
  const auto watchUntil = Clock::now() + 3500ms;
  while (Clock::now() < watchUntil) {
    auto notification = receiver.next(100ms);
    if (notification && notification->text == "WATCHDOG=1") {
      EXPECT_EQ(notification->sender, child_);
      pings.push_back(notification->at);
    }
  }
  ASSERT_GE(pings.size(), 5u);
  for (std::size_t i = 1; i < pings.size(); ++i) {
    const auto gap = pings[i] - pings[i - 1];
    EXPECT_LT(gap, 1000ms) << "ping " << i;
    EXPECT_GT(gap, 350ms) << "ping " << i;
  }

  // A stuck worker: its thread alone is stopped (ptrace), the main thread runs on.
  const auto worker = thread("ftpalg-q0");
  ASSERT_TRUE(worker.has_value()) << "no thread named ftpalg-q0";
  ASSERT_EQ(::ptrace(PTRACE_SEIZE, *worker, nullptr, nullptr), 0) << std::strerror(errno);
  ASSERT_EQ(::ptrace(PTRACE_INTERRUPT, *worker, nullptr, nullptr), 0) << std::strerror(errno);
  int stopStatus = 0;
  ASSERT_EQ(::waitpid(*worker, &stopStatus, __WALL), *worker);
  const auto stopped = Wall::now();
  receiver.seen.clear();
  const auto stuck = receiver.waitFor("STATUS=stuck: the worker of queue 0", 9s);
  EXPECT_TRUE(stuck.has_value()) << stderrText();
  Wall::time_point lastPing = stopped;
  for (const Notification& notification : receiver.seen) {
    if (notification.text == "WATCHDOG=1") lastPing = notification.at;
  }
  EXPECT_LT(lastPing - stopped, 6s) << "pings went on while a worker was stuck";
  std::size_t pingsWhileStuck = 0;
  const auto quietUntil = Clock::now() + 2500ms;
  while (Clock::now() < quietUntil) {
    auto notification = receiver.next(100ms);
    if (notification && notification->text == "WATCHDOG=1") ++pingsWhileStuck;
  }
  EXPECT_EQ(pingsWhileStuck, 0u);
  ASSERT_EQ(::ptrace(PTRACE_DETACH, *worker, nullptr, nullptr), 0) << std::strerror(errno);
  receiver.seen.clear();
  EXPECT_TRUE(receiver.waitFor("WATCHDOG=1", 3s).has_value()) << "no ping after the worker went on";
  bool runningAgain = false;
  for (const Notification& notification : receiver.seen) {
    runningAgain = runningAgain || notification.text.starts_with("STATUS=running");
  }
  EXPECT_TRUE(runningAgain);
  EXPECT_NE(stderrText().find("ftpalg: error: the worker of queue 0 has made no progress"), std::string::npos)
      << stderrText();

  // SIGTERM: STOPPING=1, then a clean exit, rules gone.
  ASSERT_EQ(::kill(child_, SIGTERM), 0);
  const auto stopping = receiver.waitFor("STOPPING=1", 10s);
  EXPECT_TRUE(stopping.has_value()) << stderrText();
  EXPECT_EQ(waitExit(20s), 0) << stderrText();
  EXPECT_EQ(inNamespace("iptables-save -t mangle").find("ftpalg"), std::string::npos);
}

TEST_F(SystemdNotify, AnAbstractSocketInTheServicesNamespace) {
  // Abstract names belong to a network namespace: the socket is made inside ftpalg's.
  const std::string name = "@ftpalg-notify-test-" + std::to_string(::getpid());
  std::optional<NotifyReceiver> receiver;
  std::thread inside([&] {
    const int netns = ::open(("/run/netns/" + namespace_).c_str(), O_RDONLY | O_CLOEXEC);
    if (netns >= 0 && ::setns(netns, CLONE_NEWNET) == 0) receiver.emplace(name);
    if (netns >= 0) ::close(netns);
  });
  inside.join();
  ASSERT_TRUE(receiver.has_value() && receiver->ok());
  start({"NOTIFY_SOCKET=" + name}, {"--log", (dir_ / "decisions.jsonl").string()});
  const auto ready = receiver->waitFor("READY=1", 30s);
  ASSERT_TRUE(ready.has_value()) << stderrText();
  EXPECT_EQ(ready->sender, child_);
  ASSERT_EQ(::kill(child_, SIGTERM), 0);
  EXPECT_TRUE(receiver->waitFor("STOPPING=1", 10s).has_value()) << stderrText();
  EXPECT_EQ(waitExit(20s), 0) << stderrText();
}

TEST_F(SystemdNotify, ConfigurationErrorsExitWithStatusTwoAndNeverReady) {
  const std::string socketPath = (dir_ / "notify.sock").string();
  NotifyReceiver receiver(socketPath);
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  const std::string notify = "NOTIFY_SOCKET=" + socketPath;

  const fs::path config = dir_ / "bad.conf";
  std::ofstream(config) << "queue = abc\n";
  ASSERT_EQ(::chmod(config.c_str(), 0644), 0);
  start({notify}, {"--config", config.string()});
  EXPECT_EQ(waitExit(20s), 2) << stderrText();
  EXPECT_NE(
      stderrText().find("ftpalg: error: " + config.string() + ":1: queue: \"abc\": not a decimal number"),
      std::string::npos)
      << stderrText();

  start({notify}, {"--user", "no-such-account-ftpalg", "--log", (dir_ / "decisions.jsonl").string()});
  EXPECT_EQ(waitExit(20s), 2) << stderrText();
  EXPECT_NE(stderrText().find("--user: \"no-such-account-ftpalg\": no such account"), std::string::npos)
      << stderrText();
  const auto failed = receiver.waitFor("STATUS=failed: run: --user", 2s);
  EXPECT_TRUE(failed.has_value());

  // nobody cannot create a file in a root-only directory: reopening after rotation would fail.
  const fs::path rootOnly = dir_ / "root-only";
  fs::create_directory(rootOnly);
  ASSERT_EQ(::chmod(rootOnly.c_str(), 0755), 0);
  start({notify}, {"--user", "nobody", "--log", (rootOnly / "decisions.jsonl").string()});
  EXPECT_EQ(waitExit(20s), 2) << stderrText();
  EXPECT_NE(stderrText().find("--user nobody cannot create files in " + rootOnly.string()), std::string::npos)
      << stderrText();

  EXPECT_FALSE(receiver.waitFor("READY=1", 500ms).has_value());
  for (const Notification& notification : receiver.seen) {
    EXPECT_EQ(notification.text.find("READY=1"), std::string::npos) << notification.text;
  }
  // Nothing was installed.
  EXPECT_EQ(inNamespace("iptables-save").find("ftpalg"), std::string::npos);
  int tableStatus = 0;
  inNamespace("nft list table inet ftpalg", &tableStatus);
  EXPECT_NE(tableStatus, 0);
}

}  // namespace
