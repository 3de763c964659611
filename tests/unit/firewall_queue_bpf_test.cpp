// The classic BPF programs of the conntrack-owned queue rules (src/firewall/queue_bpf.hpp,
// compiled by tcpdump through scripts/gen-queue-bpf.sh) run here, on packets built by the test
// support, through an interpreter of classic BPF written for this test (the instruction set as
// the kernel's sk_run_filter defines it: an out-of-bounds load ends the program with 0). What the
// programs must select is stated by the tests, independently of how tcpdump compiled them:
// segments with payload and without RST, and SYN-ACKs; never a pure ACK, an RST, a SYN or an
// IPv6 segment behind extension headers.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "firewall/queue_bpf.hpp"
#include "packet_builder.hpp"

namespace ftpalg::firewall {
namespace {

using ftpalg::testing::buildTcpPacket;
using ftpalg::testing::ep;
using ftpalg::testing::TcpPacketSpec;

struct Instruction {
  std::uint16_t code = 0;
  std::uint8_t jt = 0;
  std::uint8_t jf = 0;
  std::uint32_t k = 0;
};

// "N,c t f k,c t f k,..." (xt_bpf's --bytecode): nullopt when malformed or when N differs from
// the number of instructions.
std::optional<std::vector<Instruction>> parseBytecode(std::string_view text) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in{std::string(text)};
  while (std::getline(in, part, ',')) parts.push_back(part);
  if (parts.empty()) return std::nullopt;
  const unsigned long count = std::stoul(parts[0]);
  std::vector<Instruction> program;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::istringstream fields(parts[i]);
    unsigned code = 0, jt = 0, jf = 0;
    unsigned long k = 0;
    if (!(fields >> code >> jt >> jf >> k)) return std::nullopt;
    program.push_back(Instruction{static_cast<std::uint16_t>(code), static_cast<std::uint8_t>(jt),
                                  static_cast<std::uint8_t>(jf), static_cast<std::uint32_t>(k)});
  }
  if (program.size() != count) return std::nullopt;
  return program;
}

// Classic BPF: accumulator A, index X, scratch memory M[16]; loads are big-endian. Returns the
// program's return value; 0 for an out-of-bounds access or a malformed program.
std::uint32_t run(const std::vector<Instruction>& program, std::span<const std::uint8_t> packet) {
  std::uint32_t a = 0, x = 0;
  std::array<std::uint32_t, 16> memory{};
  auto load = [&](std::uint64_t offset, unsigned size, bool& ok) -> std::uint32_t {
    if (offset + size > packet.size()) {
      ok = false;
      return 0;
    }
    std::uint32_t value = 0;
    for (unsigned i = 0; i < size; ++i) value = (value << 8) | packet[offset + i];
    return value;
  };
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const Instruction& in = program[pc];
    const unsigned cls = in.code & 0x07;
    const unsigned size = (in.code & 0x18) == 0x00 ? 4 : (in.code & 0x18) == 0x08 ? 2 : 1;
    const unsigned mode = in.code & 0xe0;
    bool ok = true;
    switch (cls) {
      case 0x00:  // LD
        if (mode == 0x00)
          a = in.k;
        else if (mode == 0x20)
          a = load(in.k, size, ok);
        else if (mode == 0x40)
          a = load(static_cast<std::uint64_t>(x) + in.k, size, ok);
        else if (mode == 0x60)
          a = memory.at(in.k);
        else if (mode == 0x80)
          a = static_cast<std::uint32_t>(packet.size());
        else
          return 0;
        break;
      case 0x01:  // LDX
        if (mode == 0x00)
          x = in.k;
        else if (mode == 0x60)
          x = memory.at(in.k);
        else if (mode == 0x80)
          x = static_cast<std::uint32_t>(packet.size());
        else if (mode == 0xa0)
          x = 4 * (load(in.k, 1, ok) & 0x0f);  // MSH: IP header length
        else
          return 0;
        break;
      case 0x02: memory.at(in.k) = a; break;  // ST
      case 0x03: memory.at(in.k) = x; break;  // STX
      case 0x04: {                            // ALU
        const std::uint32_t operand = (in.code & 0x08) ? x : in.k;
        switch (in.code & 0xf0) {
          case 0x00: a += operand; break;
          case 0x10: a -= operand; break;
          case 0x20: a *= operand; break;
          case 0x30:
            if (operand == 0) return 0;
            a /= operand;
            break;
          case 0x40: a |= operand; break;
          case 0x50: a &= operand; break;
          case 0x60: a = operand < 32 ? a << operand : 0; break;
          case 0x70: a = operand < 32 ? a >> operand : 0; break;
          case 0x80: a = 0u - a; break;
          case 0x90:
            if (operand == 0) return 0;
            a %= operand;
            break;
          case 0xa0: a ^= operand; break;
          default: return 0;
        }
        break;
      }
      case 0x05: {  // JMP
        const std::uint32_t operand = (in.code & 0x08) ? x : in.k;
        bool taken = false;
        switch (in.code & 0xf0) {
          case 0x00: pc += in.k; continue;
          case 0x10: taken = a == operand; break;
          case 0x20: taken = a > operand; break;
          case 0x30: taken = a >= operand; break;
          case 0x40: taken = (a & operand) != 0; break;
          default: return 0;
        }
        pc += taken ? in.jt : in.jf;
        break;
      }
      case 0x06:  // RET
        return (in.code & 0x18) == 0x10 ? a : in.k;
      case 0x07:  // MISC
        if ((in.code & 0xf8) == 0x00)
          x = a;  // TAX
        else if ((in.code & 0xf8) == 0x80)
          a = x;  // TXA
        else
          return 0;
        break;
      default: return 0;
    }
    if (!ok) return 0;
  }
  return 0;  // fell off the end: the kernel's checker refuses such a program
}

constexpr std::uint8_t kSyn = tcp_flags::kSyn, kAck = tcp_flags::kAck, kRst = tcp_flags::kRst,
                       kFin = tcp_flags::kFin, kPsh = tcp_flags::kPsh;

std::vector<std::uint8_t> v4(std::uint8_t flags, std::string payload = {}) {
  TcpPacketSpec spec;
  spec.src = ep("192.168.77.10:40000");
  spec.dst = ep("203.0.113.10:21");
  spec.flags = flags;
  spec.payload = std::move(payload);
  return buildTcpPacket(spec);
}

std::vector<std::uint8_t> v6(std::uint8_t flags, std::string payload = {}) {
  TcpPacketSpec spec;
  spec.src = ep("[2001:db8:77::10]:40000");
  spec.dst = ep("[2001:db8:1::10]:21");
  spec.flags = flags;
  spec.payload = std::move(payload);
  return buildTcpPacket(spec);
}

class QueueBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed4 = parseBytecode(kQueueBpfV4);
    auto parsed6 = parseBytecode(kQueueBpfV6);
    ASSERT_TRUE(parsed4.has_value());
    ASSERT_TRUE(parsed6.has_value());
    program4_ = std::move(*parsed4);
    program6_ = std::move(*parsed6);
  }
  bool queued4(const std::vector<std::uint8_t>& packet) const { return run(program4_, packet) != 0; }
  bool queued6(const std::vector<std::uint8_t>& packet) const { return run(program6_, packet) != 0; }
  std::vector<Instruction> program4_, program6_;
};

TEST_F(QueueBpf, Ipv4SegmentsWithPayloadAreQueuedPureAcksAreNot) {
  EXPECT_TRUE(queued4(v4(kAck | kPsh, "NOOP\r\n")));
  EXPECT_TRUE(queued4(v4(kAck, "x")));
  EXPECT_TRUE(queued4(v4(kAck | kFin, "QUIT\r\n")));  // a FIN that carries data
  EXPECT_FALSE(queued4(v4(kAck)));
  EXPECT_FALSE(queued4(v4(kAck | kFin)));
}

TEST_F(QueueBpf, Ipv4RstIsNeverQueuedEvenWithPayload) {
  EXPECT_FALSE(queued4(v4(kRst)));
  EXPECT_FALSE(queued4(v4(kRst | kAck)));
  EXPECT_FALSE(queued4(v4(kRst | kAck, "abcd")));
}

TEST_F(QueueBpf, Ipv4SynAckIsQueuedTheClientsSynIsNot) {
  EXPECT_TRUE(queued4(v4(kSyn | kAck)));
  EXPECT_FALSE(queued4(v4(kSyn)));
}

TEST_F(QueueBpf, Ipv4HeaderAndTcpOptionLengthsAreNotPayload) {
  TcpPacketSpec spec;
  spec.src = ep("192.168.77.10:40000");
  spec.dst = ep("203.0.113.10:21");
  spec.flags = kAck;
  spec.ipv4Options = {1, 1, 1, 1, 1, 1, 1, 1};                 // 8 bytes of NOP: IHL 7
  spec.rawTcpOptions = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
  spec.sack = {{1000, 2000}};
  EXPECT_FALSE(queued4(buildTcpPacket(spec)));
  spec.payload = "PORT 192,168,77,10,195,80\r\n";
  EXPECT_TRUE(queued4(buildTcpPacket(spec)));
}

TEST_F(QueueBpf, Ipv6SegmentsWithPayloadAreQueuedPureAcksAreNot) {
  EXPECT_TRUE(queued6(v6(kAck | kPsh, "EPSV\r\n")));
  EXPECT_TRUE(queued6(v6(kAck | kFin, "QUIT\r\n")));
  EXPECT_FALSE(queued6(v6(kAck)));
  EXPECT_FALSE(queued6(v6(kAck | kFin)));
  TcpPacketSpec spec;
  spec.src = ep("[2001:db8:77::10]:40000");
  spec.dst = ep("[2001:db8:1::10]:21");
  spec.flags = kAck;
  spec.rawTcpOptions = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  EXPECT_FALSE(queued6(buildTcpPacket(spec)));
}

TEST_F(QueueBpf, Ipv6RstSynAndSynAck) {
  EXPECT_FALSE(queued6(v6(kRst | kAck, "abcd")));
  EXPECT_FALSE(queued6(v6(kRst)));
  EXPECT_TRUE(queued6(v6(kSyn | kAck)));
  EXPECT_FALSE(queued6(v6(kSyn)));
}

TEST_F(QueueBpf, Ipv6BehindExtensionHeadersIsNotQueued) {
  TcpPacketSpec spec;
  spec.src = ep("[2001:db8:77::10]:40000");
  spec.dst = ep("[2001:db8:1::10]:21");
  spec.flags = kAck | kPsh;
  spec.payload = "EPSV\r\n";
  spec.ipv6HopByHop = true;
  EXPECT_FALSE(queued6(buildTcpPacket(spec)));
}

TEST_F(QueueBpf, EachProgramRefusesTheOtherFamily) {
  EXPECT_FALSE(queued4(v6(kAck | kPsh, "NOOP\r\n")));
  EXPECT_FALSE(queued6(v4(kAck | kPsh, "NOOP\r\n")));
}

}  // namespace
}  // namespace ftpalg::firewall
