// systemd's notification protocol as sd_notify(3) states it: a datagram of "NAME=value" lines
// to the AF_UNIX socket $NOTIFY_SOCKET names, '@' standing for the abstract namespace's leading
// NUL; the watchdog interval from $WATCHDOG_USEC (pinged at half of it, sd_watchdog_enabled(3)),
// only for the process $WATCHDOG_PID names when set. The datagram test uses a real socket.
#include "app/service_notifier.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ftpalg::app {
namespace {

TEST(NotifySocket, APathIsNulTerminated) {
  const auto parsed = parseNotifySocket("/run/systemd/notify");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->address.sun_family, AF_UNIX);
  EXPECT_STREQ(parsed->address.sun_path, "/run/systemd/notify");
  EXPECT_EQ(parsed->length, offsetof(sockaddr_un, sun_path) + std::strlen("/run/systemd/notify") + 1);
}

TEST(NotifySocket, AnAbstractNameStartsWithNulAndHasNoTerminator) {
  const auto parsed = parseNotifySocket("@/org/example/notify");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->address.sun_path[0], '\0');
  EXPECT_EQ(std::string(parsed->address.sun_path + 1, 19), "/org/example/notify");
  EXPECT_EQ(parsed->length, offsetof(sockaddr_un, sun_path) + 20);
}

TEST(NotifySocket, OtherValuesAreRefusedByName) {
  for (const char* bad : {"", "relative/path", "vsock:2:1234"}) {
    const auto parsed = parseNotifySocket(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.error().find(std::string("NOTIFY_SOCKET=\"") + bad + "\""), std::string::npos)
        << parsed.error();
  }
  EXPECT_FALSE(parseNotifySocket("/" + std::string(sizeof(sockaddr_un::sun_path), 'x')).ok());
  // The longest that fits: a path with its NUL, an abstract name without one.
  EXPECT_TRUE(parseNotifySocket("/" + std::string(sizeof(sockaddr_un::sun_path) - 2, 'x')).ok());
  EXPECT_TRUE(parseNotifySocket("@" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'x')).ok());
}

TEST(Watchdog, PingsAtHalfTheTimeoutForThisProcessOnly) {
  using std::chrono::microseconds;
  auto off = watchdogPingInterval(nullptr, nullptr, 42);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off.value().has_value());
  auto on = watchdogPingInterval("30000000", nullptr, 42);
  ASSERT_TRUE(on.ok());
  EXPECT_EQ(on.value(), microseconds(15000000));
  auto ours = watchdogPingInterval("1000000", "42", 42);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(ours.value(), microseconds(500000));
  auto theirs = watchdogPingInterval("1000000", "43", 42);
  ASSERT_TRUE(theirs.ok());
  EXPECT_FALSE(theirs.value().has_value());
  EXPECT_FALSE(watchdogPingInterval("0", nullptr, 42).ok());
  EXPECT_FALSE(watchdogPingInterval("12s", nullptr, 42).ok());
  EXPECT_FALSE(watchdogPingInterval("1000000", "x", 42).ok());
}

// A real datagram through a socket this test binds in the abstract namespace.
TEST(ServiceNotifier, SendsOneDatagramToTheNamedSocket) {
  const std::string name = "@ftpalg-notifier-test-" + std::to_string(::getpid());
  const auto address = parseNotifySocket(name);
  ASSERT_TRUE(address.ok());
  const int receiver = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(receiver, 0);
  ASSERT_EQ(::bind(receiver, reinterpret_cast<const sockaddr*>(&address->address), address->length), 0)
      << std::strerror(errno);

  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "2000000", 1);
  ::unsetenv("WATCHDOG_PID");
  auto notifier = ServiceNotifier::fromEnvironment();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(notifier.ok()) << notifier.error();
  EXPECT_TRUE(notifier->enabled());
  EXPECT_EQ(notifier->watchdogPingInterval(), std::chrono::microseconds(1000000));
  ASSERT_TRUE(notifier->notify("READY=1\nSTATUS=running").ok());

  char buffer[256];
  const ssize_t got = ::recv(receiver, buffer, sizeof buffer, MSG_DONTWAIT);
  ::close(receiver);
  ASSERT_GT(got, 0);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(got)), "READY=1\nSTATUS=running");
}

TEST(ServiceNotifier, WithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  auto notifier = ServiceNotifier::fromEnvironment();
  ASSERT_TRUE(notifier.ok());
  EXPECT_FALSE(notifier->enabled());
  EXPECT_TRUE(notifier->notify("READY=1").ok());
}

}  // namespace
}  // namespace ftpalg::app
