// ConntrackDestroyEvents: the end of anchored control connections, from conntrack
// (docs/design.md#session-life-from-conntrack). A NETLINK_NETFILTER socket in the multicast group
// NFNLGRP_CONNTRACK_DESTROY with a socket filter (classic BPF built by libnetfilter_conntrack's
// nfct_filter, run in the kernel) that lets through only TCP entries carrying the anchor's mark
// bit; the rest is checked here: the helper status bit (data connections inherit the mark but
// have no helper) and a control port as the server's real port.
//
// Facts (measured): the event comes when conntrack's garbage collector reaps the entry, 7-49 s
// after its timeout (a closed connection: the CLOSE or TIME_WAIT timeout); it carries the tuples,
// status and mark, but neither the helper name nor the seqadj records. A burst larger than the
// socket's receive buffer is lost with ENOBUFS: read() reports it and the caller resynchronises
// with a dump (conntrack_takeover.hpp).
//
// One listener per queue worker (each its own socket; every worker receives every anchored
// event and keeps those of its flows, by the same server-address split as the queue rules:
// firewall::queueIndexOfServer). Not thread-safe; non-blocking.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "conntrack_netlink.hpp"
#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/result.hpp"

namespace ftpalg::io {

struct ConntrackEventsOptions {
  std::vector<std::uint16_t> controlPorts{21};
  std::uint32_t controlMark = 0x00020000;
  int receiveBufferBytes = 4 << 20;  // SO_RCVBUFFORCE
};

class ConntrackDestroyEvents {
 public:
  static Result<std::unique_ptr<ConntrackDestroyEvents>> open(const ConntrackEventsOptions& options);
  ~ConntrackDestroyEvents();
  ConntrackDestroyEvents(const ConntrackDestroyEvents&) = delete;
  ConntrackDestroyEvents& operator=(const ConntrackDestroyEvents&) = delete;

  // The socket to poll for POLLIN.
  int fd() const;

  struct ReadResult {
    std::size_t destroyed = 0;  // anchored control connections reported
    bool lost = false;          // ENOBUFS: events were dropped; resynchronise by dump
  };
  // Reads every pending datagram and calls `onDestroyed` with the flow key (client real, server
  // real: original source and reply source) and the entry (its original tuple and CTA_ID) of each
  // destroyed anchored control connection.
  Result<ReadResult> read(const std::function<void(const FlowKey&, const ConntrackEntry&)>& onDestroyed);

  struct Counters {
    std::uint64_t events = 0;   // DESTROY messages that passed the kernel filter
    std::uint64_t matched = 0;  // ... that were anchored control connections
    std::uint64_t lost = 0;     // ENOBUFS reports
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Impl;
  explicit ConntrackDestroyEvents(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  Counters counters_;
};

}  // namespace ftpalg::io
