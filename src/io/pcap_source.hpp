// PcapSource: reads a pcap or pcapng capture through libpcap and splits every record into its
// link-layer header and its network-layer bytes, for replay.
//
// Link types: Ethernet (DLT_EN10MB, with any number of 802.1Q / 802.1ad / 0x9100 VLAN tags),
// Linux cooked capture v1 and v2 (DLT_LINUX_SLL, DLT_LINUX_SLL2), raw IP (DLT_RAW, DLT_IPV4,
// DLT_IPV6) and BSD loopback (DLT_NULL, DLT_LOOP). Other link types fail at open().
//
// Ownership: the spans of a returned SourcePacket point into libpcap's record buffer and stay
// valid only until the next call to next(). `linkHeader` + `ipPacket` is always the complete
// captured record (ipPacket runs to the end of the record and may include Ethernet padding), so
// writing both back reproduces the record byte for byte.
//
// Timestamps: read with nanosecond precision whatever the file stores; SourcePacket::ts is
// nanoseconds since the Unix epoch, exactly as recorded.
//
// Numbering: packets are numbered from 1 in file order (like Wireshark's frame numbers);
// SourcePacket::id is that number and every error message starts with "packet N: ".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ftpalg/core/result.hpp"
#include "ftpalg/io/interfaces.hpp"

namespace ftpalg::io {

// How finely the capture file stores timestamps; a writer copying the capture uses the same.
enum class TimestampPrecision : std::uint8_t { Micro, Nano };

// Facts about the last record next() returned, beyond SourcePacket.
struct RecordInfo {
  std::uint32_t capturedLength = 0;  // bytes present in the file (caplen)
  std::uint32_t originalLength = 0;  // bytes on the wire (len)
  bool truncated() const { return capturedLength < originalLength; }
  // The record's network layer, from its link header (ethertype / SLL protocol / IP version).
  enum class Network : std::uint8_t { Ipv4, Ipv6, Other } network = Network::Other;
};

class PcapSource final {
 public:
  // Opens `path` ("-" is standard input). Errors name the file.
  static Result<std::unique_ptr<PcapSource>> open(const std::string& path);
  ~PcapSource();
  PcapSource(const PcapSource&) = delete;
  PcapSource& operator=(const PcapSource&) = delete;

  // The next record, nullopt at the end of the file, or an error "packet N: <reason>" for a
  // corrupt or truncated file (processing must stop). controlCandidate is true when the record
  // carries an IPv4 or IPv6 packet that was captured whole (caplen == len).
  Result<std::optional<SourcePacket>> next();
  const RecordInfo& lastRecord() const { return last_; }
  std::uint64_t packetsRead() const { return packetNumber_; }

  int linkType() const { return linkType_; }
  std::string linkTypeName() const;
  TimestampPrecision precision() const { return precision_; }
  int snapshotLength() const;

 private:
  struct Handle;
  PcapSource(std::unique_ptr<Handle> handle, int linkType, TimestampPrecision precision);

  std::unique_ptr<Handle> handle_;
  int linkType_ = 0;
  TimestampPrecision precision_ = TimestampPrecision::Micro;
  std::uint64_t packetNumber_ = 0;
  RecordInfo last_;
};

}  // namespace ftpalg::io
