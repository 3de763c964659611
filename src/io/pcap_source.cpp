// PcapSource: libpcap offline reading and link-layer dissection (see pcap_source.hpp).
#include "pcap_source.hpp"

#include <pcap/pcap.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ftpalg::io {

namespace {

// libpcap reads every record with two fread()s; a large stdio buffer turns the default one read()
// per 4 KiB into one per 64 KiB (small enough to stay in the CPU cache).
constexpr std::size_t kReadBufferBytes = 64 << 10;

}  // namespace

struct PcapSource::Handle {
  // Declared first: destroyed after pcap_close() has closed the stream that uses it.
  std::unique_ptr<char[]> readBuffer;
  pcap_t* pcap = nullptr;
  ~Handle() {
    if (pcap != nullptr) pcap_close(pcap);  // also closes the FILE
  }
};

namespace {

// Link-layer types whose values are the same on every platform (pcap/dlt.h).
constexpr int kDltNull = DLT_NULL;  // 4-byte host-order address family
constexpr int kDltEthernet = DLT_EN10MB;
constexpr int kDltRaw = DLT_RAW;               // LINKTYPE_RAW (101) maps to this
constexpr int kDltLoop = DLT_LOOP;             // 4-byte network-order address family
constexpr int kDltLinuxSll = DLT_LINUX_SLL;    // 16-byte header, protocol at offset 14
constexpr int kDltLinuxSll2 = DLT_LINUX_SLL2;  // 20-byte header, protocol at offset 0
constexpr int kDltIpv4 = DLT_IPV4;
constexpr int kDltIpv6 = DLT_IPV6;

constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr std::uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q
constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;     // IEEE 802.1ad
constexpr std::uint16_t kEtherTypeQinQOld = 0x9100;  // pre-standard double tagging

bool supportedLinkType(int linkType) {
  switch (linkType) {
    case kDltNull:
    case kDltEthernet:
    case kDltRaw:
    case kDltLoop:
    case kDltLinuxSll:
    case kDltLinuxSll2:
    case kDltIpv4:
    case kDltIpv6: return true;
    default: return false;
  }
}

std::uint16_t readBigEndian16(const std::uint8_t* bytes) {
  return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
}

struct Dissection {
  std::size_t networkOffset = 0;  // link header length (all bytes before the network layer)
  RecordInfo::Network network = RecordInfo::Network::Other;
};

RecordInfo::Network networkFromVersionNibble(const std::uint8_t* bytes, std::size_t length) {
  if (length == 0) return RecordInfo::Network::Other;
  switch (bytes[0] >> 4) {
    case 4: return RecordInfo::Network::Ipv4;
    case 6: return RecordInfo::Network::Ipv6;
    default: return RecordInfo::Network::Other;
  }
}

// Follows an ethertype at `offset` (the field's own position) through VLAN tags. Each tag is
// 4 bytes: TCI (2) and the next ethertype (2).
Dissection followEtherType(const std::uint8_t* bytes, std::size_t length, std::size_t typeOffset,
                           std::size_t payloadOffset) {
  Dissection result;
  result.networkOffset = payloadOffset > length ? length : payloadOffset;
  if (typeOffset + 2 > length) return result;
  std::uint16_t etherType = readBigEndian16(bytes + typeOffset);
  std::size_t offset = payloadOffset;
  while (etherType == kEtherTypeVlan || etherType == kEtherTypeQinQ || etherType == kEtherTypeQinQOld) {
    if (offset + 4 > length) {
      result.networkOffset = length;
      return result;
    }
    etherType = readBigEndian16(bytes + offset + 2);
    offset += 4;
  }
  // A record shorter than its link header (SLL2 puts the protocol before a 20-byte header) has
  // no network layer at all.
  if (offset > length) {
    result.networkOffset = length;
    return result;
  }
  result.networkOffset = offset;
  RecordInfo::Network claimed = RecordInfo::Network::Other;
  if (etherType == kEtherTypeIpv4) claimed = RecordInfo::Network::Ipv4;
  if (etherType == kEtherTypeIpv6) claimed = RecordInfo::Network::Ipv6;
  // Trust the ethertype only when the version nibble agrees.
  if (claimed != RecordInfo::Network::Other &&
      networkFromVersionNibble(bytes + offset, length - offset) == claimed) {
    result.network = claimed;
  }
  return result;
}

Dissection dissect(int linkType, const std::uint8_t* bytes, std::size_t length) {
  switch (linkType) {
    case kDltEthernet: return followEtherType(bytes, length, 12, 14);
    case kDltLinuxSll: return followEtherType(bytes, length, 14, 16);
    case kDltLinuxSll2: return followEtherType(bytes, length, 0, 20);
    case kDltNull:
    case kDltLoop: {
      Dissection result;
      result.networkOffset = length < 4 ? length : 4;
      if (length > 4) result.network = networkFromVersionNibble(bytes + 4, length - 4);
      return result;
    }
    default: {  // raw IP
      Dissection result;
      result.network = networkFromVersionNibble(bytes, length);
      if (linkType == kDltIpv4 && result.network != RecordInfo::Network::Ipv4) {
        result.network = RecordInfo::Network::Other;
      }
      if (linkType == kDltIpv6 && result.network != RecordInfo::Network::Ipv6) {
        result.network = RecordInfo::Network::Other;
      }
      return result;
    }
  }
}

// The precision the file itself stores (classic pcap magic), so a copy keeps it. pcapng
// interfaces may use any resolution; nanoseconds keep every one of them exact.
TimestampPrecision filePrecision(const std::string& path) {
  if (path == "-") return TimestampPrecision::Nano;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return TimestampPrecision::Nano;
  std::array<unsigned char, 4> magic{};
  const std::size_t got = std::fread(magic.data(), 1, magic.size(), file);
  std::fclose(file);
  if (got != magic.size()) return TimestampPrecision::Nano;
  const std::uint32_t big = (std::uint32_t{magic[0]} << 24) | (std::uint32_t{magic[1]} << 16) |
                            (std::uint32_t{magic[2]} << 8) | magic[3];
  if (big == 0xa1b2c3d4 || big == 0xd4c3b2a1) return TimestampPrecision::Micro;
  return TimestampPrecision::Nano;
}

}  // namespace

PcapSource::PcapSource(std::unique_ptr<Handle> handle, int linkType, TimestampPrecision precision)
    : handle_(std::move(handle)), linkType_(linkType), precision_(precision) {}

PcapSource::~PcapSource() = default;

Result<std::unique_ptr<PcapSource>> PcapSource::open(const std::string& path) {
  char errorBuffer[PCAP_ERRBUF_SIZE] = {};
  auto handle = std::make_unique<Handle>();
  std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Err{"cannot read capture \"" + path + "\": " + path + ": " + std::strerror(errno)};
  }
  handle->readBuffer = std::make_unique<char[]>(kReadBufferBytes);
  std::setvbuf(file, handle->readBuffer.get(), _IOFBF, kReadBufferBytes);
  handle->pcap = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errorBuffer);
  if (handle->pcap == nullptr) {
    if (file != stdin) std::fclose(file);
    return Err{"cannot read capture \"" + path + "\": " + errorBuffer};
  }
  const int linkType = pcap_datalink(handle->pcap);
  if (!supportedLinkType(linkType)) {
    const char* name = pcap_datalink_val_to_name(linkType);
    return Err{"capture \"" + path + "\": unsupported link type " + std::to_string(linkType) + " (" +
               (name != nullptr ? name : "unknown") +
               "); supported: EN10MB (Ethernet, VLAN), LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP"};
  }
  return std::unique_ptr<PcapSource>(new PcapSource(std::move(handle), linkType, filePrecision(path)));
}

std::string PcapSource::linkTypeName() const {
  const char* name = pcap_datalink_val_to_name(linkType_);
  return name != nullptr ? name : std::to_string(linkType_);
}

int PcapSource::snapshotLength() const { return pcap_snapshot(handle_->pcap); }

Result<std::optional<SourcePacket>> PcapSource::next() {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const std::uint64_t number = packetNumber_ + 1;
  const int status = pcap_next_ex(handle_->pcap, &header, &data);
  if (status == PCAP_ERROR_BREAK) return std::optional<SourcePacket>{};  // end of file
  if (status != 1) {
    // PCAP_ERROR: a truncated record or a corrupt header ("truncated dump file; tried to read
    // 1514 captured bytes, only got 200", "invalid packet capture length ...").
    return Err{"packet " + std::to_string(number) + ": " + pcap_geterr(handle_->pcap)};
  }
  packetNumber_ = number;

  const std::size_t capturedLength = header->caplen;
  const Dissection dissection = dissect(linkType_, data, capturedLength);
  last_.capturedLength = header->caplen;
  last_.originalLength = header->len;
  last_.network = dissection.network;

  SourcePacket packet;
  packet.id = number;
  // With PCAP_TSTAMP_PRECISION_NANO, tv_usec holds nanoseconds.
  packet.ts = Timestamp{static_cast<std::int64_t>(header->ts.tv_sec) * 1'000'000'000 +
                        static_cast<std::int64_t>(header->ts.tv_usec)};
  packet.linkHeader = std::span<const std::uint8_t>(data, dissection.networkOffset);
  packet.ipPacket = std::span<const std::uint8_t>(data + dissection.networkOffset,
                                                  capturedLength - dissection.networkOffset);
  packet.controlCandidate = dissection.network != RecordInfo::Network::Other && !last_.truncated();
  return std::optional<SourcePacket>(packet);
}

}  // namespace ftpalg::io
