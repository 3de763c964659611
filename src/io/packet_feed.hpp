// PacketFeed: where a live worker's packets come from (src/app/live_runner.cpp). Two kinds:
//   - NfqueueSource (nfqueue_source.hpp): the packet itself, held by the kernel until the
//     worker's verdict (live mode);
//   - NflogSource (nflog_source.hpp): a copy through NFLOG; the packet went on without waiting
//     (--dry-run: a slow or stopped instance never delays or drops one).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ftpalg/core/result.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::io {

// Netfilter hook a packet was queued or logged from (NF_INET_* values).
enum class QueueHook : std::uint8_t {
  PreRouting = 0,
  LocalIn = 1,
  Forward = 2,
  LocalOut = 3,
  PostRouting = 4,
  Unknown = 255,
};

struct QueuedPacket {
  SourcePacket packet;  // id = the NFQUEUE packet id (NFLOG: a running count)
  QueueHook hook = QueueHook::Unknown;
  bool checksumCompleted = false;  // NFQA_SKB_CSUMNOTREADY was set and fixed here
  bool truncated = false;          // the copy is shorter than the packet: never to be modified
};

class PacketFeed {
 public:
  virtual ~PacketFeed() = default;
  virtual int fd() const = 0;
  // Non-blocking: reads what is pending and calls onPacket for each packet in arrival order;
  // returns how many. Err() only for a socket failure.
  virtual Result<std::size_t> receive(const std::function<void(const QueuedPacket&)>& onPacket) = 0;
  // Messages the kernel could not deliver because the socket buffer was full (ENOBUFS).
  virtual std::uint64_t overruns() const = 0;
  // Errors the kernel answered to our messages, and the last one's text.
  virtual std::uint64_t kernelErrors() const = 0;
  virtual const std::string& lastKernelError() const = 0;
};

}  // namespace ftpalg::io
