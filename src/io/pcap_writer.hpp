// PcapWriter: writes a classic pcap file with a given link type and timestamp precision, for
// replay's --out. Records are written exactly as given: the link-layer header bytes, then the
// network-layer bytes, with the given timestamp.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/core/result.hpp"
#include "ftpalg/core/time.hpp"
#include "pcap_source.hpp"

namespace ftpalg::io {

class PcapWriter {
 public:
  // Creates (truncates) `path` ("-" is standard output). Errors name the file.
  static Result<std::unique_ptr<PcapWriter>> create(const std::string& path, int linkType,
                                                    TimestampPrecision precision);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Writes one record: linkHeader followed by networkBytes (both only read during the call).
  // `originalLength` is the on-the-wire length to record (len); 0 means "as captured", i.e.
  // linkHeader.size() + networkBytes.size(). A value above the captured size keeps a truncated
  // record truncated.
  void write(Timestamp ts, std::span<const std::uint8_t> linkHeader,
             std::span<const std::uint8_t> networkBytes, std::uint32_t originalLength = 0);
  // Flushes and checks for write errors; the file stays open.
  Status<> flush();
  std::uint64_t packetsWritten() const { return written_; }

 private:
  struct Handle;
  explicit PcapWriter(std::unique_ptr<Handle> handle, TimestampPrecision precision, std::string path);

  std::unique_ptr<Handle> handle_;
  TimestampPrecision precision_;
  std::string path_;
  std::vector<std::uint8_t> record_;  // reused buffer: one record being assembled
  std::uint64_t written_ = 0;
};

}  // namespace ftpalg::io
