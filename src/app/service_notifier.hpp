// systemd's service notification protocol, spoken directly (sd_notify(3)): each notification is
// one datagram of newline-separated "NAME=value" assignments ("READY=1\nSTATUS=running ...")
// sent to the AF_UNIX socket named by $NOTIFY_SOCKET; a name starting with '@' is in the abstract
// namespace (the '@' stands for the leading NUL byte). The service manager learns the sender's
// pid from the socket's credentials, so notifications come from the main process.
//
// ftpalg implements these few lines itself rather than linking libsystemd: a router daemon with
// one dependency fewer, which also runs unchanged where no service manager (or another one
// speaking the same protocol) starts it.
//
// Without $NOTIFY_SOCKET every call does nothing: ftpalg runs in the foreground as before.
//
// The watchdog (sd_watchdog_enabled(3)): $WATCHDOG_USEC is the timeout the unit's WatchdogSec=
// set; $WATCHDOG_PID, when present, names the process it applies to. "WATCHDOG=1" must arrive
// before each timeout ends; ftpalg pings at half of it, as sd_watchdog_enabled(3) recommends.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "ftpalg/core/result.hpp"

namespace ftpalg::app {

// The socket address $NOTIFY_SOCKET names: a path ("/run/systemd/notify") or an abstract name
// ("@name"). Anything else (empty, relative, "vsock:...", too long for sun_path) is an error
// naming the value. Pure.
struct NotifyAddress {
  sockaddr_un address{};
  socklen_t length = 0;
};
Result<NotifyAddress> parseNotifySocket(std::string_view value);

// The ping interval for $WATCHDOG_USEC and $WATCHDOG_PID (each nullopt when unset) in process
// `ourPid`: half the timeout; nullopt when the watchdog is off, or on for another pid. A value
// that is not a positive decimal number is an error naming it. Pure.
Result<std::optional<std::chrono::microseconds>> watchdogPingInterval(const char* usec, const char* pid,
                                                                      pid_t ourPid);

class ServiceNotifier {
 public:
  // From the environment ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID). An error names the
  // variable and its value; the caller reports it and runs on without notifications.
  static Result<ServiceNotifier> fromEnvironment();
  // Not started by a service manager: every call does nothing.
  ServiceNotifier() = default;

  bool enabled() const { return address_.has_value(); }
  // Sends `state` (assignments, newline-separated) as one datagram, from a fresh socket as
  // sd_notify does (so it still works after the privilege drop: the service manager's socket
  // is writable by all). Errors name the socket and the reason.
  Status<> notify(std::string_view state) const;

  std::optional<std::chrono::microseconds> watchdogPingInterval() const { return watchdogPing_; }

 private:
  std::optional<NotifyAddress> address_;
  std::string socketName_;
  std::optional<std::chrono::microseconds> watchdogPing_;
};

}  // namespace ftpalg::app
