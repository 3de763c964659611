// The daemon's status thread: answers `ftpalg status` on a root-only unix socket
// (--status-socket) and serves the Prometheus metrics over HTTP on --metrics-listen (opt-in).
// Each request collects a fresh WorkerStatus from every queue worker (`collect`, which asks the
// workers through their mailboxes: live_status.hpp) and formats it. One connection at a time,
// each bounded by a 1 s send/receive timeout, so a stuck client delays the next one but never a
// packet: the workers only copy their state when asked.
//
// Unix protocol: the client sends one line, "json" or "text"; the server answers and closes.
// The socket is created mode 0600 by root before privileges are dropped, and a peer whose
// SO_PEERCRED uid is neither 0 nor the daemon's is refused.
// HTTP: `GET /metrics` (HTTP/1.0 or 1.1) -> 200 text/plain; version=0.0.4; anything else 404/405.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/result.hpp"
#include "live_status.hpp"

namespace ftpalg::app {

class StatusServer {
 public:
  using Collect = std::function<std::vector<WorkerStatus>()>;
  using Describe = std::function<DaemonStatus()>;

  // Binds the unix socket at `socketPath` (its directory is created, mode 0755, when missing; a
  // stale socket file left by a dead instance is replaced; one a live process answers on is
  // refused) and, when given, the TCP listener at `metrics`. Starts nothing yet.
  static Result<std::unique_ptr<StatusServer>> open(const std::string& socketPath,
                                                    const std::optional<Endpoint>& metrics);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Starts the thread. `collect` and `describe` are called on it; they must stay valid until
  // stop().
  void start(Collect collect, Describe describe);
  // Stops the thread and removes the socket file. Idempotent.
  void stop();

  const std::string& socketPath() const { return socketPath_; }

 private:
  StatusServer() = default;
  void run();
  void answerUnix(int fd);
  void answerHttp(int fd);

  std::string socketPath_;
  int unixFd_ = -1;
  int tcpFd_ = -1;
  int stopFd_ = -1;
  Collect collect_;
  Describe describe_;
  std::thread thread_;
};

// `ftpalg status`: asks the daemon at `socketPath` for "json" or "text" and returns its answer.
Result<std::string> queryStatus(const std::string& socketPath, bool json);

}  // namespace ftpalg::app
