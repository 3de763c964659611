// PcapWriter: libpcap savefile output (see pcap_writer.hpp).
#include "pcap_writer.hpp"

#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ftpalg::io {

namespace {
// Large enough for any rewritten packet (a rewrite grows a record by a few bytes); libpcap
// readers reject records longer than the file's snapshot length.
constexpr int kOutputSnapshotLength = 262144;
// pcap_dump() writes each record with two fwrite()s; a large stdio buffer turns the default one
// write() per 4 KiB into one per 64 KiB (small enough to stay in the CPU cache).
constexpr std::size_t kWriteBufferBytes = 64 << 10;
}  // namespace

struct PcapWriter::Handle {
  // Declared first: destroyed after pcap_dump_close() has flushed and closed the stream using it.
  std::unique_ptr<char[]> writeBuffer;
  pcap_t* pcap = nullptr;
  pcap_dumper_t* dumper = nullptr;
  ~Handle() {
    if (dumper != nullptr) pcap_dump_close(dumper);  // flushes and closes the FILE
    if (pcap != nullptr) pcap_close(pcap);
  }
};

PcapWriter::PcapWriter(std::unique_ptr<Handle> handle, TimestampPrecision precision, std::string path)
    : handle_(std::move(handle)), precision_(precision), path_(std::move(path)) {}

PcapWriter::~PcapWriter() = default;

Result<std::unique_ptr<PcapWriter>> PcapWriter::create(const std::string& path, int linkType,
                                                       TimestampPrecision precision) {
  auto handle = std::make_unique<Handle>();
  handle->pcap = pcap_open_dead_with_tstamp_precision(
      linkType, kOutputSnapshotLength,
      precision == TimestampPrecision::Nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  if (handle->pcap == nullptr) {
    return Err{"cannot create capture \"" + path + "\": libpcap refused link type " +
               std::to_string(linkType)};
  }
  std::FILE* file = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return Err{"cannot create capture \"" + path + "\": " + path + ": " + std::strerror(errno)};
  }
  handle->writeBuffer = std::make_unique<char[]>(kWriteBufferBytes);
  std::setvbuf(file, handle->writeBuffer.get(), _IOFBF, kWriteBufferBytes);
  handle->dumper = pcap_dump_fopen(handle->pcap, file);
  if (handle->dumper == nullptr) {
    if (file != stdout) std::fclose(file);
    return Err{"cannot create capture \"" + path + "\": " + pcap_geterr(handle->pcap)};
  }
  return std::unique_ptr<PcapWriter>(new PcapWriter(std::move(handle), precision, path));
}

void PcapWriter::write(Timestamp ts, std::span<const std::uint8_t> linkHeader,
                       std::span<const std::uint8_t> networkBytes, std::uint32_t originalLength) {
  // A record passed through unchanged is still one block (the link header right before the
  // network bytes): written from where it is. Otherwise assembled in record_.
  std::span<const std::uint8_t> record;
  if (linkHeader.empty() || linkHeader.data() + linkHeader.size() == networkBytes.data()) {
    record = std::span<const std::uint8_t>(linkHeader.empty() ? networkBytes.data() : linkHeader.data(),
                                           linkHeader.size() + networkBytes.size());
  } else {
    record_.assign(linkHeader.begin(), linkHeader.end());
    record_.insert(record_.end(), networkBytes.begin(), networkBytes.end());
    record = record_;
  }
  pcap_pkthdr header{};
  std::int64_t seconds = ts.nanos / 1'000'000'000;
  std::int64_t fraction = ts.nanos % 1'000'000'000;
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  header.ts.tv_sec = static_cast<decltype(header.ts.tv_sec)>(seconds);
  header.ts.tv_usec = static_cast<decltype(header.ts.tv_usec)>(
      precision_ == TimestampPrecision::Nano ? fraction : fraction / 1000);
  header.caplen = static_cast<bpf_u_int32>(record.size());
  header.len = originalLength > record.size() ? originalLength : header.caplen;
  pcap_dump(reinterpret_cast<u_char*>(handle_->dumper), &header, record.data());
  ++written_;
}

Status<> PcapWriter::flush() {
  if (pcap_dump_flush(handle_->dumper) != 0 || std::ferror(pcap_dump_file(handle_->dumper)) != 0) {
    return Err{"cannot write capture \"" + path_ + "\": " + std::strerror(errno)};
  }
  return okStatus();
}

}  // namespace ftpalg::io
