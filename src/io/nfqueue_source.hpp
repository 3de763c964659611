// NfqueueSource: packets from one NFQUEUE queue (libnetfilter_queue's libmnl API), and the
// verdict sink that answers them. The only libnetfilter_queue user
// (docs/architecture.md#layering-enforced-by-cmake).
//
// Queue configuration (one acknowledged config message at open()):
//   - NFQNL_CFG_CMD_BIND to the queue number;
//   - NFQNL_COPY_PACKET, range 0xffff (the whole packet);
//   - queue max length (kernel-side backlog);
//   - NFQA_CFG_F_GSO: no segmentation in the kernel for us (a GSO packet arrives whole, with
//     NFQA_SKB_CSUMNOTREADY when its TCP checksum is only partial: see below);
//   - NFQA_CFG_F_FAIL_OPEN when failOpen: a full queue accepts instead of dropping.
//   NFQA_CFG_F_CONNTRACK is never requested: CONFIG_NETFILTER_NETLINK_GLUE_CT is off on the
//   target kernel (EOPNOTSUPP, docs/design.md#no-conntrack-on-queued-packets); flows are resolved through
//   ctnetlink instead.
//
// Checksums: a packet flagged NFQA_SKB_CSUMNOTREADY carries only the pseudo-header sum in its TCP
// checksum field (the NIC would finish it). The source completes the checksum in place before
// handing the packet on, so the engine's incremental updates (RFC 1624) start from a correct
// value and a modified verdict carries a valid checksum (the kernel treats a replaced payload as
// CHECKSUM_NONE).
//
// Lifetime: SourcePacket::ipPacket refers into this source's receive buffers and stays valid
// until the next call to receive()/next(). Single-threaded: one source per engine thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "ftpalg/io/interfaces.hpp"
#include "packet_feed.hpp"

namespace ftpalg::io {

struct NfqueueOptions {
  std::uint16_t queueNum = 0;
  bool failOpen = true;
  std::uint32_t maxQueueLength = 4096;      // packets waiting in the kernel for a verdict
  int socketBufferBytes = 8 * 1024 * 1024;  // SO_RCVBUFFORCE (needs CAP_NET_ADMIN)
  unsigned batchSize = 32;                  // datagrams per recvmmsg()
};

class NfqueueVerdictSink;

class NfqueueSource final : public PacketFeed {
 public:
  // Binds the queue. Errors name the queue and the cause, notably: the queue already bound by
  // another process (with its netlink port id, usually its pid), missing CAP_NET_ADMIN.
  static Result<std::unique_ptr<NfqueueSource>> open(const NfqueueOptions& options);
  ~NfqueueSource();  // unbinds (NFQNL_CFG_CMD_UNBIND) and closes the socket
  NfqueueSource(const NfqueueSource&) = delete;
  NfqueueSource& operator=(const NfqueueSource&) = delete;

  int fd() const override;
  std::uint16_t queueNum() const;

  // Non-blocking: reads what is pending (up to batchSize datagrams, several packets per
  // system call) and calls onPacket for each packet in arrival order. Returns the number of
  // packets delivered (0 when nothing was pending). ENOBUFS (the kernel dropped messages because
  // our socket was full) is counted, not an error.
  Result<std::size_t> receive(const std::function<void(const QueuedPacket&)>& onPacket) override;

  // The sink answering this queue's packets. Lives as long as the source.
  VerdictSink& verdicts();

  struct Counters {
    std::uint64_t packets = 0;
    std::uint64_t datagrams = 0;
    std::uint64_t overruns = 0;  // ENOBUFS on receive
    std::uint64_t checksumsCompleted = 0;
    std::uint64_t truncated = 0;
    std::uint64_t kernelErrors = 0;  // NLMSG_ERROR answers to our verdicts
    std::uint64_t verdictsSent = 0;
    std::uint64_t verdictSendErrors = 0;
  };
  const Counters& counters() const;
  // The last error the kernel reported for a verdict (e.g. unknown packet id), for the log.
  const std::string& lastKernelError() const override;
  std::uint64_t overruns() const override { return counters().overruns; }
  std::uint64_t kernelErrors() const override { return counters().kernelErrors; }

 private:
  friend class NfqueueVerdictSink;
  struct Impl;
  explicit NfqueueSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Who holds a queue, from /proc/net/netfilter/nfnetlink_queue ("queue portid ..."); nullopt when
// the queue is not bound or the file is unreadable.
std::optional<std::uint32_t> queueBoundBy(std::uint16_t queueNum);

}  // namespace ftpalg::io
