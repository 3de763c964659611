// NflogSource: copies of packets from one NFLOG group (nfnetlink_log), for `ftpalg run
// --dry-run` (docs/admin-guide.md#dry-run-and-shadow-mode). The packet itself never waits for
// ftpalg: the kernel sends a copy and the packet goes on, so a slow, stopped or dead dry-run
// instance cannot delay or drop one; when the socket is full the kernel drops the copy
// (counted as an overrun, ENOBUFS) and ftpalg's view of that session has a gap.
//
// Talks nfnetlink_log directly through libmnl (already linked for ctnetlink and NFQUEUE), so
// the dry-run adds no library (libnetfilter_log would wrap the same five attributes):
//   - NFULNL_MSG_CONFIG, res_id = the group: NFULA_CFG_CMD NFULNL_CFG_CMD_BIND (fails with
//     EBUSY when another socket has the group), NFULA_CFG_MODE NFULNL_COPY_PACKET with copy range
//     0xffff (the whole packet: an IPv4/IPv6 packet is at most 65535 bytes without jumbograms),
//     NFULA_CFG_QTHRESH 1 (each copy sent at once, never batched behind a timer),
//     NFULA_CFG_TIMEOUT 1 (1/100 s, for the case the threshold cannot be met);
//   - NFULNL_MSG_PACKET: NFULA_PACKET_HDR (the hook), NFULA_PAYLOAD (the IP packet).
// A rule's own size limit (nft `log snaplen`, iptables `--nflog-size`) would cut copies shorter;
// ftpalg's own rules set none (firewall/copy_rules.hpp). A copy shorter than its IP header says is
// `truncated`.
//
// Lifetime: SourcePacket::ipPacket refers into the receive buffer and stays valid until the next
// receive(). Single-threaded: one source per engine thread. Unbinds at destruction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ftpalg/core/result.hpp"
#include "ftpalg/io/interfaces.hpp"
#include "packet_feed.hpp"

namespace ftpalg::io {

struct NflogOptions {
  std::uint16_t group = 0;
  int socketBufferBytes = 8 * 1024 * 1024;  // SO_RCVBUFFORCE (needs CAP_NET_ADMIN)
};

class NflogSource final : public PacketFeed {
 public:
  // Binds the group. Errors name the group and the cause (bound by another process: EBUSY).
  static Result<std::unique_ptr<NflogSource>> open(const NflogOptions& options);
  ~NflogSource() override;
  NflogSource(const NflogSource&) = delete;
  NflogSource& operator=(const NflogSource&) = delete;

  int fd() const override;
  std::uint16_t group() const;
  Result<std::size_t> receive(const std::function<void(const QueuedPacket&)>& onPacket) override;
  std::uint64_t overruns() const override;
  std::uint64_t kernelErrors() const override;
  const std::string& lastKernelError() const override;

 private:
  struct Impl;
  explicit NflogSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The verdict sink of a copy feed: nothing to answer, the packet has long gone on.
class CopyVerdictSink final : public VerdictSink {
 public:
  Status<> deliver(const PacketVerdict& /*verdict*/) override { return okStatus(); }
};

}  // namespace ftpalg::io
