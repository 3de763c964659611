// ConntrackNetlink: the one ctnetlink client of the shell (libmnl on a NETLINK_NETFILTER socket):
// conntrack entries (GET, filtered dumps, updates of the sequence adjustment and the mark) and
// expectations (create, set the timer, get, delete, dump). The flow resolver, the kernel session
// port, the conntrack-expectation pinhole backend, the destroy-event listener and the start-up
// takeover dump are built on it (docs/design.md#conntrack-owned-mode has the kernel facts).
//
// Contracts:
//  - Byte order: every value in this API is in host byte order (addresses as IpAddress, ports,
//    marks, status bits, sequence numbers, offsets, timeouts); ctnetlink carries all of them
//    big-endian and this file converts at the boundary.
//  - Each request waits for the kernel's answer (NLM_F_ACK or the end of a dump), so a change is
//    in place when the call returns; an answer that does not come within 500 ms is an error.
//  - Tuples are TCP (CTA_PROTO_NUM 6). The address family of a request is its tuple's; dumps ask
//    for every family (AF_UNSPEC).
//  - Not thread-safe: one instance per thread (each has its own socket).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/result.hpp"
#include "ftpalg/engine/kernel_session.hpp"

struct nlmsghdr;

namespace ftpalg::io {

// One direction of a conntrack entry: src -> dst, TCP.
struct ConntrackTuple {
  Endpoint src;
  Endpoint dst;
  std::string toString() const;  // "192.168.77.10:40000 -> 203.0.113.10:21"
  friend bool operator==(const ConntrackTuple&, const ConntrackTuple&) = default;
};

// The kernel's conntrack directions, numbered as its enum ip_conntrack_dir (not in the uapi
// headers; CTA_EXPECT_NAT_DIR carries the number).
enum class ConntrackDir : std::uint8_t { Original = 0, Reply = 1 };

// Status bits of a conntrack entry (enum ip_conntrack_status, a stable uapi; the .cpp checks the
// values against <linux/netfilter/nf_conntrack_common.h>).
namespace ct_status {
inline constexpr std::uint32_t kExpected = 1u << 0;  // a data connection: it used an expectation
inline constexpr std::uint32_t kSrcNat = 1u << 4;
inline constexpr std::uint32_t kDstNat = 1u << 5;
inline constexpr std::uint32_t kSeqAdjust = 1u << 6;  // a seqadj record was set
inline constexpr std::uint32_t kHelper = 1u << 13;    // a helper was assigned (ftpalg's anchor)
}  // namespace ct_status

// What the kernel reports about one conntrack entry (GET, dump, event).
struct ConntrackEntry {
  ConntrackTuple original;
  ConntrackTuple reply;
  std::uint32_t status = 0;  // ct_status bits
  std::uint32_t mark = 0;    // 0 when the kernel sent none
  // CTA_ID: the entry's identity, unique among live entries; a new connection on the same tuple
  // (port reuse) is a new entry with another id. 0 when the kernel sent none.
  std::uint32_t id = 0;
  std::string helper;  // CTA_HELP_NAME, empty when none (DESTROY events never carry it)
  // CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY: present once ct_status::kSeqAdjust is set (then both,
  // the untouched direction as zeros). DESTROY events carry neither.
  std::optional<SeqAdjRecord> seqAdjOriginal;
  std::optional<SeqAdjRecord> seqAdjReply;
  // CTA_PROTOINFO_TCP: conntrack's TCP state (enum tcp_conntrack), and the Window Scale shift of
  // the original direction's SYN when it carried the option. nullopt when not reported.
  std::optional<std::uint8_t> tcpState = std::nullopt;
  std::optional<std::uint8_t> originalWindowShift = std::nullopt;
};

// What the kernel reports about one expectation (EXP_GET, dump).
struct ExpectationEntry {
  std::uint32_t id = 0;   // CTA_EXPECT_ID: names it in a delete
  ConntrackTuple master;  // the master's ORIGINAL tuple
  ConntrackTuple tuple;   // the data connection it admits (source port 0 when wildcarded)
  ConntrackTuple mask;
  std::uint32_t timeoutSeconds = 0;
  std::optional<ConntrackDir> natDir;  // CTA_EXPECT_NAT: the direction nat-follow-master maps from
  std::optional<Endpoint> natSource;   // ... and its saved source (only the port is used)
  std::string function;                // CTA_EXPECT_FN, e.g. "nat-follow-master"
};

// An expectation to create (IPCTNL_MSG_EXP_NEW, docs/design.md#expectations-as-pinholes).
struct ExpectationRequest {
  ConntrackTuple master;  // the control connection's ORIGINAL tuple
  // The data connection's ORIGINAL tuple as it arrives at the router; its source port is
  // wildcarded by the mask (any source port).
  ConntrackTuple tuple;
  // CTA_EXPECT_NAT_DIR: nf_nat_follow_master maps the data connection to the master's
  // tuplehash[!natDir]. Reply for PORT/EPRT (the server connects), Original for 227/229 (the
  // client connects).
  ConntrackDir natDir = ConntrackDir::Reply;
  // CTA_EXPECT_NAT_TUPLE's source port: the port the data connection is forwarded to. (The kernel
  // keeps the tuple's source address and port only, and takes both addresses from the master.)
  std::uint16_t natPort = 0;
  // CTA_EXPECT_TIMEOUT, set by a second EXP_NEW without NLM_F_CREATE: at creation the helper's
  // policy timeout (300 s for "sane") wins.
  std::uint32_t timeoutSeconds = 30;
};

// A ctnetlink error: the kernel's errno (or that of the socket call) and a message naming the
// request.
struct NetlinkError {
  int code = 0;
  std::string message;
};
template <typename T>
using NetlinkResult = Result<T, NetlinkError>;
using NetlinkStatus = Result<Unit, NetlinkError>;

class ConntrackNetlink {
 public:
  // Opens and binds the socket (its receive timeout: 500 ms).
  static Result<std::unique_ptr<ConntrackNetlink>> open();
  ~ConntrackNetlink();
  ConntrackNetlink(const ConntrackNetlink&) = delete;
  ConntrackNetlink& operator=(const ConntrackNetlink&) = delete;

  // --- conntrack entries ---
  // GET by the ORIGINAL or the REPLY tuple (`which`); nullopt: no such entry.
  //   conntrack -G -p tcp -s SRC --sport SP -d DST --dport DP
  NetlinkResult<std::optional<ConntrackEntry>> get(const ConntrackTuple& tuple, ConntrackDir which);
  // Dump of the entries whose original source is `originalSource` and reply source `replySource`
  // (CTA_FILTER, evaluated in the kernel; checked again here for kernels that ignore it):
  //   conntrack -L -p tcp -s ORIGSRC --sport OSP --reply-src REPLYSRC --reply-port-src RSP
  NetlinkResult<std::vector<ConntrackEntry>> dumpBySources(const Endpoint& originalSource,
                                                           const Endpoint& replySource);
  // Dump of every family's entries with (mark & markMask) == markValue and (status & statusMask)
  // == statusValue, filtered in the kernel (ctnetlink_filter_match):
  //   conntrack -L --mark VALUE/MASK --status ...
  NetlinkResult<std::vector<ConntrackEntry>> dumpByMarkAndStatus(std::uint32_t markValue,
                                                                 std::uint32_t markMask,
                                                                 std::uint32_t statusValue,
                                                                 std::uint32_t statusMask);
  // Replaces the sequence adjustment record of direction `dir` of the entry whose ORIGINAL tuple
  // is `original` (IPCTNL_MSG_CT_NEW without NLM_F_CREATE). The kernel accepts and IGNORES it
  // when the entry has no seqadj extension. ENOENT: no such entry.
  NetlinkStatus setSeqAdj(const ConntrackTuple& original, ConntrackDir dir, const SeqAdjRecord& record);
  // Sets the mark bits `mask` of the entry to `value` (mark = (mark & ~mask) | value).
  NetlinkStatus setMarkBits(const ConntrackTuple& original, std::uint32_t value, std::uint32_t mask);

  // --- expectations ---
  // Creates the expectation (NLM_F_CREATE | NLM_F_EXCL, CTA_EXPECT_NAT, CTA_EXPECT_FN
  // "nat-follow-master"), then sets its timer (a second EXP_NEW without NLM_F_CREATE).
  // EEXIST: an existing expectation (of any master) already matches the tuple through its mask;
  // EBUSY: one with an overlapping tuple and mask exists; EOPNOTSUPP: the master has no helper (no anchor);
  // ENOENT: no such master.
  NetlinkStatus createExpectation(const ExpectationRequest& request);
  // The expectation that admits `tuple` (EXP_GET by tuple); nullopt: none.
  NetlinkResult<std::optional<ExpectationEntry>> getExpectation(const ConntrackTuple& tuple);
  // Deletes the expectation admitting `tuple` if its id is `id` (EXP_DELETE). ENOENT: gone.
  NetlinkStatus deleteExpectation(const ConntrackTuple& tuple, std::uint32_t id);
  // Every family's expectations (EXP_GET dump).
  NetlinkResult<std::vector<ExpectationEntry>> dumpExpectations();

  std::uint64_t requests() const { return requests_; }

 private:
  struct Impl;
  explicit ConntrackNetlink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::uint64_t requests_ = 0;
};

// One conntrack message (a GET answer, a dump part, an event) as an entry; nullopt when it is not
// a conntrack entry of a TCP connection with both tuples.
std::optional<ConntrackEntry> parseConntrackMessage(const nlmsghdr* message);
// One expectation message (an EXP_GET answer, a dump part, an EXP_NEW event) as an entry; nullopt
// when it lacks the master, tuple or mask, or is not TCP.
std::optional<ExpectationEntry> parseExpectationMessage(const nlmsghdr* message);

// "ENOENT"-style text for a ctnetlink error code, with strerror: "File exists (EEXIST)".
std::string netlinkErrorText(int code);

}  // namespace ftpalg::io
