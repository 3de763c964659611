// The queue rules of `ftpalg run`: which FTP control packets go to which NFQUEUE queue, and at
// which hook. Pure text (standard library only): this file builds the iptables-restore input and
// the nft script that install and remove the rules, and reads iptables-save / `nft list` output
// back to check that they are in place. Running the programs is queue_rule_installer.hpp's job.
//
// Two layouts, one per sequence owner (docs/design.md#conntrack-owned-mode), each in ftpalg's own
// chains so that removal is clean.
//
// Engine-owned (--seq-owner engine): every packet of the control port, on both sides of conntrack:
//   iptables -t mangle -N ftpalg-c2s
//   iptables -t mangle -A ftpalg-c2s -p tcp --dport 21 -j NFQUEUE --queue-num 0 --queue-bypass
//   iptables -t mangle -I FORWARD 1 -j ftpalg-c2s
//   iptables -t raw    -N ftpalg-s2c
//   iptables -t raw    -A ftpalg-s2c -p tcp --sport 21 -j NFQUEUE --queue-num 0 --queue-bypass
//   iptables -t raw    -I PREROUTING 1 -j ftpalg-s2c
//   (the same with ip6tables)
// Client->server packets are queued after conntrack and DNAT (mangle FORWARD), server->client
// packets before conntrack (raw PREROUTING), so conntrack's window tracking sees each direction
// on the side of ftpalg's sequence translation it expects (docs/design.md#hook-placement).
//
// Conntrack-owned (--seq-owner kernel): both directions after conntrack, in one chain in mangle
// FORWARD (where both show the inside addresses), only connections that carry the anchor's mark
// bit, never a packet conntrack marks INVALID, and only segments with payload and without RST,
// or the SYN-ACK (-m bpf, queue_bpf.hpp; docs/design.md#payload-only-queueing):
//   iptables -t mangle -N ftpalg-ct
//   iptables -t mangle -A ftpalg-ct -p tcp --dport 21 -m conntrack ! --ctstate INVALID
//       --ctdir ORIGINAL -m connmark --mark 0x20000/0x20000 -m bpf --bytecode "..."
//       -j NFQUEUE --queue-num 0 --queue-bypass
//   iptables -t mangle -A ftpalg-ct -p tcp --sport 21 ... --ctdir REPLY ... (the same otherwise)
//   iptables -t mangle -I FORWARD 1 -j ftpalg-ct
// The kernel adjusts every packet's numbers (pure ACKs included) itself. The nft `queue`
// statement has no way to test for payload, so this layout always uses iptables.
//
// With --queue-balance N, each queue takes the flows whose SERVER address ends in a range of byte
// values (-m u32 on the destination address of client->server packets, the source address of
// server->client ones: the server's real address at every queue point), so both directions of a
// flow reach the same engine. The kernel's --queue-balance hashes both addresses, which differ
// between the two views under NAT.
//
// Where the kernel has the nft `queue` expression, the engine-owned rules live in
// `table inet ftpalg_queue` instead (nftQueueTableScript()).
//
// Replacing, not removing then adding: a start after a crash finds the dead instance's rules (of
// either layout). They are replaced in ONE transaction per table (iptables-restore --noflush; one
// nft batch), so no queue point is ever without its rule: under --fail-closed a control packet is
// never let through unqueued, and no session can begin unseen in a gap (it would be a mid-stream
// pick-up, never helped).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ct_marks.hpp"

namespace ftpalg::firewall {

// The default name of the nft queue table (--nft-queue-table).
inline constexpr std::string_view kDefaultQueueTable = "ftpalg_queue";

enum class QueueLayout : std::uint8_t {
  EngineOwned,     // --seq-owner engine
  ConntrackOwned,  // --seq-owner kernel
};

struct QueueRuleSpec {
  std::vector<std::uint16_t> controlPorts{21};  // the servers' real ports (after DNAT)
  std::uint16_t queueNum = 0;
  std::uint16_t queueCount = 1;  // > 1: queues queueNum.., chosen by the server's address
  bool bypass = true;            // --fail-open: packets pass when no program listens
  QueueLayout layout = QueueLayout::EngineOwned;
  std::uint32_t controlMark = kDefaultControlMark;  // ConntrackOwned: the anchor's mark bit
  std::string queueTable{kDefaultQueueTable};       // the nft layout's table (--nft-queue-table)
};

enum class IpFamily : std::uint8_t { V4, V6 };

using Argv = std::vector<std::string>;

// --- iptables ----------------------------------------------------------------------------------

// A queue point: ftpalg's own chain in `table`, entered from the built-in chain `hook` by one
// jump at position 1, queueing the control packets of `directions`.
enum class QueuedDirections : std::uint8_t { ClientToServer, ServerToClient, Both };
struct QueuePoint {
  std::string_view table;
  std::string_view hook;
  std::string_view chain;
  QueuedDirections directions;
};
inline constexpr QueuePoint kClientToServer{"mangle", "FORWARD", "ftpalg-c2s",
                                            QueuedDirections::ClientToServer};
inline constexpr QueuePoint kServerToClient{"raw", "PREROUTING", "ftpalg-s2c",
                                            QueuedDirections::ServerToClient};
inline constexpr QueuePoint kConntrackOwnedPoint{"mangle", "FORWARD", "ftpalg-ct", QueuedDirections::Both};
// The engine-owned layout's points.
inline constexpr QueuePoint kQueuePoints[] = {kClientToServer, kServerToClient};
// Every point of every layout: what a start replaces and a stop removes.
inline constexpr QueuePoint kAllQueuePoints[] = {kClientToServer, kServerToClient, kConntrackOwnedPoint};

// The queue (0-based, of `queueCount`) that takes the flows of a server whose real address ends
// in byte `lastAddressByte`: the split of --queue-balance (the -m u32 ranges), which the
// conntrack-owned workers also use to keep the destroy events of their own flows.
unsigned queueIndexOfServer(std::uint8_t lastAddressByte, unsigned queueCount);

// The points of `layout`, in installation order.
std::vector<QueuePoint> queuePoints(QueueLayout layout);

// The rules of one queue point's chain, each without the leading "-A CHAIN", e.g.
// {"-p", "tcp", "--dport", "21", "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"}; for
// kConntrackOwnedPoint per port and queue the client->server rule, then the server->client one.
std::vector<Argv> queueChainRules(const QueueRuleSpec& spec, const QueuePoint& point, IpFamily family);

// The same rules as the commands an admin would type (for `ftpalg rules` and for installing them
// by hand with --no-queue-rules): argument vectors without the program name, in order.
std::vector<Argv> iptablesInstallCommands(const QueueRuleSpec& spec, IpFamily family);

// What ftpalg reads from `iptables-save -t TABLE` output: per table, the chains and the rules
// (tokens after "-A CHAIN", quotes removed). Other lines are skipped.
struct IptablesRule {
  std::string chain;
  Argv spec;
};
struct IptablesTable {
  std::string name;
  std::vector<std::string> chains;  // declared chains, built-in and user-defined
  std::vector<IptablesRule> rules;  // in listing order
};
struct IptablesListing {
  std::vector<IptablesTable> tables;
  const IptablesTable* find(std::string_view table) const;
};
IptablesListing parseIptablesSave(std::string_view text);

// iptables-restore --noflush input that installs the queue rules of spec.layout for `family`,
// replacing what `current` (the listing of the mangle and raw tables) shows of a previous copy:
// each chain of the layout is declared (created, or flushed when it exists) and refilled, every
// listed jump to it is deleted and one jump is inserted at position 1 of its hook; the chains of
// the other layout that `current` lists lose their jumps and are deleted; all in one COMMIT per
// table.
std::string iptablesInstallRestoreInput(const QueueRuleSpec& spec, IpFamily family,
                                        const IptablesListing& current);
// ... input that removes them, of every layout (jumps, rules, chains), in one COMMIT per table;
// empty when `current` lists nothing of ftpalg's.
std::string iptablesRemoveRestoreInput(const IptablesListing& current);

// What differs between `listed` (iptables-save of the mangle and raw tables, read back after
// installing) and the rules `spec` installs: a missing chain, a jump count other than exactly one
// plain `-A HOOK -j CHAIN`, a missing or unexpected rule, a chain of the other layout. Empty: the
// rules are in place.
std::vector<std::string> iptablesQueueRuleProblems(const IptablesListing& listed, const QueueRuleSpec& spec,
                                                   IpFamily family);

// --- nft (kernels with the `queue` expression) -------------------------------------------------

// The engine-owned layout only (the conntrack-owned one needs -m bpf):
// `table inet ftpalg_queue { chain c2s_queue {...} chain s2c_queue {...} }` (spec.queueTable),
// for `ftpalg rules`.
std::string nftQueueTableScript(const QueueRuleSpec& spec);
// The script `run` applies: creates the table, replacing a stale copy in the same transaction
// (`add table` makes the `delete table` always valid).
std::string nftQueueInstallScript(const QueueRuleSpec& spec);
std::string nftQueueRemoveScript(const QueueRuleSpec& spec);
// What is missing from `nft list table inet ftpalg_queue` output (spec.queueTable): the table, a
// chain, its hook, or one of its two queue rules (IPv4, IPv6). Empty: in place.
std::vector<std::string> nftQueueTableProblems(std::string_view listing, const QueueRuleSpec& spec);

}  // namespace ftpalg::firewall
