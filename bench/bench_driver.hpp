// Benchmark driver: feeds synthetic FTP control connections through an Engine with as little
// harness cost as possible, so that a benchmark's time is the engine's time.
//
// How: every message kind is built ONCE with tests/support/packet_builder (valid IPv4 + TCP,
// correct checksums) into a template; each send patches the template in place (addresses, ports,
// seq, ack: a few stores) and hands it over as a shell does: parsed once, its flow resolved, then
// Engine::onPacket (testing::submitPacket). The patched TCP checksum is left
// stale: the engine never verifies checksums, and a rewrite recomputes the checksum of what it
// emits, so the code path is the one real traffic takes.
//
// Sequence spaces (docs/architecture.md): each peer sends in its ORIGINAL space (isn + 1 + bytes
// sent) and acknowledges what it RECEIVED, i.e. the other direction's OUTPUT space. The driver
// learns each direction's output delta from the engine's own verdicts (AcceptModified: new
// length - old length), so ACKs stay exact across rewrites and the engine can prune its edit log,
// as it does with real peers.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/engine/engine.hpp"
#include "ftpalg/io/interfaces.hpp"
#include "ftpalg/packet/packet_view.hpp"
#include "packet_builder.hpp"
#include "session_sim.hpp"

namespace ftpalg::bench {

// A prebuilt IPv4 packet whose addresses, ports, seq and ack are patched per send.
struct Template {
  std::vector<std::uint8_t> bytes;
  std::size_t tcp = 0;
  std::size_t payloadLength = 0;
  std::uint8_t flags = 0;

  static Template make(std::string_view payload, std::uint8_t flags = tcp_flags::kAck | tcp_flags::kPsh) {
    testing::TcpPacketSpec spec;
    spec.src = testing::ep("192.0.2.1:1");
    spec.dst = testing::ep("192.0.2.2:2");
    spec.flags = flags;
    spec.payload = std::string(payload);
    Template t;
    t.bytes = testing::buildTcpPacket(spec);
    t.tcp = static_cast<std::size_t>(t.bytes[0] & 0x0F) * 4;
    t.payloadLength = payload.size();
    t.flags = flags;
    return t;
  }
};

inline void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// One control connection as its two peers see it (IPv4, addresses as on the wire).
struct Conn {
  Endpoint client;
  Endpoint server;
  std::uint32_t clientIsn = 0x10000000;
  std::uint32_t serverIsn = 0x20000000;
  std::uint64_t clientSent = 0;  // payload bytes, original space
  std::uint64_t serverSent = 0;
  std::int64_t clientDelta = 0;  // output - original of the client's stream (rewrites)
  std::int64_t serverDelta = 0;
  bool clientFin = false, serverFin = false;
};

struct DriverCounters {
  std::uint64_t packets = 0;
  std::uint64_t modified = 0;
  std::uint64_t held = 0;  // packets whose verdict did not come back at once
};

class Driver {
 public:
  Driver(Engine& engine, FlowResolver& resolver, Timestamp start = Timestamp{1'000'000'000'000'000'000})
      : engine_(engine), resolver_(resolver), now_(start) {}

  Timestamp now() const { return now_; }
  void advance(Duration d) { now_ = now_ + d; }
  Outcome& lastOutcome() { return out_; }
  DriverCounters counters;

  // Sends template `t` from one peer of `c` (patched in place), through the engine.
  void send(Conn& c, bool fromClient, Template& t) {
    std::uint8_t* p = t.bytes.data();
    const Endpoint& src = fromClient ? c.client : c.server;
    const Endpoint& dst = fromClient ? c.server : c.client;
    std::memcpy(p + 12, src.address.bytes().data(), 4);
    std::memcpy(p + 16, dst.address.bytes().data(), 4);
    store16(p + t.tcp, src.port);
    store16(p + t.tcp + 2, dst.port);
    std::uint32_t seq;
    std::uint32_t ack;
    if (fromClient) {
      seq = static_cast<std::uint32_t>(c.clientIsn + 1 + c.clientSent);
      ack = static_cast<std::uint32_t>(c.serverIsn + 1 + static_cast<std::int64_t>(c.serverSent) +
                                       c.serverDelta + (c.serverFin ? 1 : 0));
    } else {
      seq = static_cast<std::uint32_t>(c.serverIsn + 1 + c.serverSent);
      ack = static_cast<std::uint32_t>(c.clientIsn + 1 + static_cast<std::int64_t>(c.clientSent) +
                                       c.clientDelta + (c.clientFin ? 1 : 0));
    }
    store32(p + t.tcp + 4, seq);
    store32(p + t.tcp + 8, ack);
    process(c, fromClient, t.bytes);
    (fromClient ? c.clientSent : c.serverSent) += t.payloadLength;
    if ((t.flags & tcp_flags::kFin) != 0) (fromClient ? c.clientFin : c.serverFin) = true;
  }

  // Setup-path send (not for timed loops): builds a fresh packet with packet_builder.
  void sendSlow(Conn& c, bool fromClient, std::string_view payload,
                std::uint8_t flags = tcp_flags::kAck | tcp_flags::kPsh) {
    Template t = Template::make(payload, flags);
    send(c, fromClient, t);
  }

  // SYN, SYN-ACK, ACK (MSS 1460 both ways), 220 greeting, login.
  void establish(Conn& c) {
    testing::TcpPacketSpec syn;
    syn.src = c.client;
    syn.dst = c.server;
    syn.seq = c.clientIsn;
    syn.flags = tcp_flags::kSyn;
    syn.mss = 1460;
    syn.sackPermitted = true;
    auto bytes = testing::buildTcpPacket(syn);
    process(c, true, bytes);
    testing::TcpPacketSpec synAck;
    synAck.src = c.server;
    synAck.dst = c.client;
    synAck.seq = c.serverIsn;
    synAck.ack = c.clientIsn + 1;
    synAck.flags = tcp_flags::kSyn | tcp_flags::kAck;
    synAck.mss = 1460;
    synAck.sackPermitted = true;
    bytes = testing::buildTcpPacket(synAck);
    process(c, false, bytes);
    sendSlow(c, true, "", tcp_flags::kAck);
    sendSlow(c, false, "220 (vsFTPd 3.0.3)\r\n");
    sendSlow(c, true, "USER anonymous\r\n");
    sendSlow(c, false, "331 Please specify the password.\r\n");
    sendSlow(c, true, "PASS guest@example.com\r\n");
    sendSlow(c, false, "230 Login successful.\r\n");
    sendSlow(c, true, "TYPE I\r\n");
    sendSlow(c, false, "200 Switching to Binary mode.\r\n");
  }

 private:
  void process(Conn& c, bool fromClient, const std::vector<std::uint8_t>& bytes) {
    out_.clear();
    const PacketId id = nextId_++;
    testing::submitPacket(engine_, resolver_, id, bytes, now_, out_);
    ++counters.packets;
    bool decided = false;
    for (const PacketVerdict& verdict : out_.verdicts) {
      if (verdict.id != id) continue;
      decided = true;
      if (verdict.kind == VerdictKind::AcceptModified) {
        ++counters.modified;
        const auto grown =
            static_cast<std::int64_t>(verdict.bytes.size()) - static_cast<std::int64_t>(bytes.size());
        (fromClient ? c.clientDelta : c.serverDelta) += grown;
      }
    }
    if (!decided) ++counters.held;
  }

  Engine& engine_;
  FlowResolver& resolver_;
  Outcome out_;
  Timestamp now_;
  PacketId nextId_ = 1;
};

// The i-th of many inside clients (192.168.77.0/24 is masqueraded behind 203.0.113.1 in every
// benchmark): 250 hosts x up to 64,000 ports.
inline Endpoint insideClient(std::size_t i) {
  const auto host = static_cast<std::uint8_t>(1 + i % 250);
  const auto port = static_cast<std::uint16_t>(1024 + i / 250);
  return Endpoint{IpAddress::fromV4Octets({192, 168, 77, host}), port};
}

// Peak resident set size of this process in KB (getrusage ru_maxrss).
inline long peakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace ftpalg::bench
