// Fuzz target: the replay capture reader (src/io/pcap_source.cpp: libpcap + our link-layer
// dissection) on arbitrary files.
//
// The input is written to a memory file (memfd) and opened by path like any capture. libpcap
// itself is not instrumented; our dissection is, and every record's spans are checked:
//  - open() and next() never crash; every record is numbered 1, 2, 3, ... in order and next()
//    stops with end of file or an error "packet N: ..." naming the next number;
//  - linkHeader and ipPacket are adjacent and together are exactly the captured record
//    (capturedLength bytes), so neither can point outside it;
//  - controlCandidate implies an IPv4/IPv6 network layer and a record captured whole;
//  - PacketView::parse on every network-layer payload is safe.
// Every link type is fuzzed, LINUX_SLL2 included (its records shorter than the 20-byte header were
// once read past their end: regressions/fuzz_pcap_reader/sll2-*).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ftpalg/packet/packet_view.hpp"
#include "fuzz_check.hpp"
#include "io/pcap_source.hpp"

namespace {

int memoryFile() {
  static const int fd = memfd_create("fuzz_pcap_reader", 0);
  FUZZ_CHECK(fd >= 0);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memoryFile();
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = pwrite(fd, data + written, size - written, static_cast<off_t>(written));
    FUZZ_CHECK(n > 0);
    written += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);

  auto source = ftpalg::io::PcapSource::open(path);
  if (!source) {
    FUZZ_CHECK(!source.error().empty());
    return 0;
  }
  ftpalg::io::PcapSource& reader = *source.value();
  (void)reader.linkTypeName();
  (void)reader.snapshotLength();
  for (std::uint64_t expected = 1; expected <= 100000; ++expected) {
    auto next = reader.next();
    if (!next) {
      const std::string prefix = "packet " + std::to_string(expected) + ": ";
      FUZZ_CHECK_MSG(next.error().rfind(prefix, 0) == 0, "error without its packet number: %s",
                     next.error().c_str());
      break;
    }
    if (!next.value()) break;  // end of file
    const ftpalg::SourcePacket& packet = *next.value();
    const ftpalg::io::RecordInfo& record = reader.lastRecord();
    FUZZ_CHECK(packet.id == expected);
    FUZZ_CHECK(reader.packetsRead() == expected);
    FUZZ_CHECK_MSG(packet.linkHeader.size() <= record.capturedLength, "link header %zu of a %u-byte record",
                   packet.linkHeader.size(), record.capturedLength);
    FUZZ_CHECK(packet.linkHeader.size() + packet.ipPacket.size() == record.capturedLength);
    FUZZ_CHECK(packet.linkHeader.data() + packet.linkHeader.size() == packet.ipPacket.data() ||
               packet.ipPacket.empty() || packet.linkHeader.empty());
    if (packet.controlCandidate) {
      FUZZ_CHECK(record.network != ftpalg::io::RecordInfo::Network::Other);
      FUZZ_CHECK(!record.truncated());
    }
    // Touch every byte the spans claim (ASan reports a read outside libpcap's record buffer).
    unsigned sum = 0;
    for (const std::uint8_t byte : packet.linkHeader) sum += byte;
    for (const std::uint8_t byte : packet.ipPacket) sum += byte;
    (void)sum;
    (void)ftpalg::PacketView::parse(packet.ipPacket);
  }
  return 0;
}
