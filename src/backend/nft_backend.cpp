// NftBackend: see nft_backend.hpp for the table and the contracts.
#include "nft_backend.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>
#include <string_view>

namespace ftpalg::backend {

namespace {

// --- libnftables (startup/shutdown only) ---------------------------------------------------------

struct NftCtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtx = std::unique_ptr<nft_ctx, NftCtxDeleter>;

std::string firstLine(std::string_view text) {
  const auto nl = text.find('\n');
  std::string line(text.substr(0, nl));
  if (line.size() > 120) line = line.substr(0, 117) + "...";
  return line;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// --- libmnl / libnftnl element batches ---------------------------------------------------------

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

struct NftnlSetDeleter {
  void operator()(nftnl_set* set) const { nftnl_set_free(set); }
};
using NftnlSet = std::unique_ptr<nftnl_set, NftnlSetDeleter>;

struct NftnlTableDeleter {
  void operator()(nftnl_table* table) const { nftnl_table_free(table); }
};

// Appends one address to a concatenated key/value. nft concatenations pad each component to a
// multiple of 4 bytes (32-bit registers); ports (inet_service) are 2 bytes in network order
// followed by 2 bytes of zero padding.
void appendAddress(std::vector<std::uint8_t>& out, const IpAddress& address) {
  const auto bytes = address.bytes();
  out.insert(out.end(), bytes.begin(), bytes.end());
}
void appendPort(std::vector<std::uint8_t>& out, std::uint16_t port) {
  out.push_back(static_cast<std::uint8_t>(port >> 8));
  out.push_back(static_cast<std::uint8_t>(port & 0xff));
  out.push_back(0);
  out.push_back(0);
}

std::string pinholeText(const Pinhole& pinhole) {
  std::string text = pinhole.from.toString() + " -> " + pinhole.to.toString();
  if (pinhole.natTo) text += " -> " + pinhole.natTo->toString();
  return text;
}

// The admin-language element text, for error messages: "198.51.100.7 . 203.0.113.1 . 50123".
std::string elementKeyText(const Pinhole& pinhole) {
  return pinhole.from.toString() + " . " + pinhole.to.address.toString() + " . " +
         std::to_string(pinhole.to.port);
}

}  // namespace

// --- scripts ---------------------------------------------------------------------------------

std::string nftQueueTableScript(const NftQueueRules& rules) {
  std::ostringstream out;
  std::string ports;
  if (rules.controlPorts.size() == 1) {
    ports = std::to_string(rules.controlPorts.front());
  } else {
    ports = "{ ";
    for (std::size_t i = 0; i < rules.controlPorts.size(); ++i) {
      if (i) ports += ", ";
      ports += std::to_string(rules.controlPorts[i]);
    }
    ports += " }";
  }
  // One queue: `queue flags bypass num N`. Several: the queue is chosen by a hash of the
  // SERVER's real address, which both queue points see (c2s: daddr after DNAT; s2c: saddr before
  // conntrack), so both directions of a flow reach the same engine. (The kernel's own
  // `queue num A-B` balancing hashes both addresses, which differ between the views under NAT.)
  auto target = [&](std::string_view family, std::string_view field) {
    std::string text = "queue";
    if (rules.bypass) text += " flags bypass";
    if (rules.queueCount <= 1) {
      text += " num " + std::to_string(rules.queueNum);
    } else {
      text += " to jhash " + std::string(family) + " " + std::string(field) + " mod " +
              std::to_string(rules.queueCount) + " offset " + std::to_string(rules.queueNum);
    }
    return text;
  };
  out << "table inet " << kQueueTable << " {\n"
      << "  # client->server control packets, after conntrack and DNAT (mangle FORWARD)\n"
      << "  chain c2s_queue { type filter hook forward priority mangle; policy accept;\n"
      << "    meta nfproto ipv4 tcp dport " << ports << " " << target("ip", "daddr") << "\n"
      << "    meta nfproto ipv6 tcp dport " << ports << " " << target("ip6", "daddr") << "\n"
      << "  }\n"
      << "  # server->client control packets, before conntrack (raw PREROUTING)\n"
      << "  chain s2c_queue { type filter hook prerouting priority raw; policy accept;\n"
      << "    meta nfproto ipv4 tcp sport " << ports << " " << target("ip", "saddr") << "\n"
      << "    meta nfproto ipv6 tcp sport " << ports << " " << target("ip6", "saddr") << "\n"
      << "  }\n"
      << "}\n";
  return out.str();
}

std::string nftTableScript(const NftTableSpec& spec) {
  char mark[16];
  std::snprintf(mark, sizeof mark, "0x%08x", spec.mark);
  const std::string size = std::to_string(spec.armedSetSize);
  std::ostringstream out;
  out << "table inet " << spec.table << " {\n"
      << "  comment \"ftpalg pid=" << ::getpid() << "\"\n"
      << "  map pinholes4 { type ipv4_addr . ipv4_addr . inet_service : ipv4_addr . inet_service; "
         "flags timeout; }\n"
      << "  set armed4 { type ipv4_addr . ipv4_addr . inet_service; size " << size
      << "; flags dynamic,timeout; }\n"
      << "  map pinholes6 { type ipv6_addr . ipv6_addr . inet_service : ipv6_addr . inet_service; "
         "flags timeout; }\n"
      << "  set armed6 { type ipv6_addr . ipv6_addr . inet_service; size " << size
      << "; flags dynamic,timeout; }\n"
      << "  chain pre_dnat { type nat hook prerouting priority dstnat - 1; policy accept;\n"
      << "    meta l4proto tcp ip saddr . ip daddr . tcp dport @armed4 delete @armed4 { ip saddr . "
         "ip daddr . tcp dport } ct mark set ct mark or "
      << mark << "\n"
      << "    meta l4proto tcp ip6 saddr . ip6 daddr . tcp dport @armed6 delete @armed6 { ip6 "
         "saddr . ip6 daddr . tcp dport } ct mark set ct mark or "
      << mark << "\n"
      << "    ct mark and " << mark << " == " << mark
      << " meta nfproto ipv4 dnat ip to ip saddr . ip daddr . tcp dport map @pinholes4\n"
      << "    ct mark and " << mark << " == " << mark
      << " meta nfproto ipv6 dnat ip6 to ip6 saddr . ip6 daddr . tcp dport map @pinholes6\n"
      << "  }\n";
  out << "}\n";
  return out.str();
}

Status<> runNftScript(const std::string& script, std::string* output) {
  NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Err(std::string("libnftables: cannot create a context"));
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  const int rc = nft_run_cmd_from_buffer(ctx.get(), script.c_str());
  if (output) {
    const char* text = nft_ctx_get_output_buffer(ctx.get());
    *output = text ? text : "";
  }
  if (rc != 0) {
    const char* error = nft_ctx_get_error_buffer(ctx.get());
    return Err("nft `" + firstLine(script) + "` failed: " + trimmed(error ? error : "unknown error"));
  }
  return okStatus();
}

Result<ExistingTable> inspectTable(const std::string& table) {
  std::string output;
  // nft list table inet ftpalg
  const auto listed = runNftScript("list table inet " + table, &output);
  ExistingTable existing;
  if (!listed) {
    if (listed.error().find("No such file or directory") != std::string::npos) return existing;
    return Err(listed.error());
  }
  existing.exists = true;
  constexpr std::string_view kTag = "comment \"ftpalg pid=";
  if (const auto at = output.find(kTag); at != std::string::npos) {
    const char* begin = output.data() + at + kTag.size();
    int pid = 0;
    const auto [end, ec] = std::from_chars(begin, output.data() + output.size(), pid);
    if (ec == std::errc() && end != begin && pid > 0) existing.ownerPid = pid;
  }
  return existing;
}

Result<bool> nftKernelHasQueue() {
  // nft add table inet ftpalg_probe; nft add chain inet ftpalg_probe p;
  // nft add rule inet ftpalg_probe p queue num 0 bypass; nft delete table inet ftpalg_probe
  // The kernel refuses an unknown expression type with ENOENT ("No such file or directory") or
  // EOPNOTSUPP; the whole transaction is then void.
  const auto probe = runNftScript(
      "add table inet ftpalg_probe\nadd chain inet ftpalg_probe p\n"
      "add rule inet ftpalg_probe p queue num 0 bypass\n");
  (void)runNftScript("delete table inet ftpalg_probe\n");
  if (probe) return true;
  if (probe.error().find("No such file or directory") != std::string::npos ||
      probe.error().find("Operation not supported") != std::string::npos) {
    return false;
  }
  return Err("probing for the nft queue expression: " + probe.error());
}

// --- element batches ---------------------------------------------------------------------------

// NFT_MSG_DESTROYSETELEM (Linux 6.3+): delete an element, or nothing when it is absent, without
// failing the batch. Not in every distribution's uapi header yet.
constexpr int kMsgDestroySetElem = 30;

struct NftBackend::Impl {
  NftTableSpec spec;
  bool ownsTable = false;
  bool hasDestroy = false;  // probed in attach()
  MnlSocket socket;
  std::uint32_t portId = 0;
  std::uint32_t seq = 0;
  std::vector<char> sendBuffer = std::vector<char>(MNL_SOCKET_BUFFER_SIZE * 2);
  std::vector<char> recvBuffer = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);

  static Result<MnlSocket> openSocket() {
    MnlSocket socket(mnl_socket_open(NETLINK_NETFILTER));
    if (!socket) return Err(std::string("nft netlink socket: ") + std::strerror(errno));
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
      return Err(std::string("nft netlink bind: ") + std::strerror(errno));
    }
    // A bounded wait for acknowledgements: the kernel answers within microseconds; a missing
    // answer must not hang the packet path forever.
    timeval timeout{1, 0};
    setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return socket;
  }

  // One set element message (NFT_MSG_NEWSETELEM / NFT_MSG_DELSETELEM) for `setName`.
  struct ElementMessage {
    std::string setName;
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> data;        // map value (NEWSETELEM on a map only)
    std::optional<std::uint64_t> timeoutMs;
  };

  // Sends the messages as one batch (all applied or none) with an ack requested for each, and
  // returns the per-message errno (0 = applied). Err() only for socket failures.
  Result<std::vector<int>> sendBatch(int messageType, const std::vector<ElementMessage>& messages) {
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(sendBuffer.data(), sendBuffer.size());
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
    mnl_nlmsg_batch_next(batch);
    std::vector<std::uint32_t> seqs;
    for (const ElementMessage& message : messages) {
      NftnlSet set(nftnl_set_alloc());
      nftnl_set_elem* element = nftnl_set_elem_alloc();
      if (!set || !element) {
        if (element) nftnl_set_elem_free(element);
        mnl_nlmsg_batch_stop(batch);
        return Err(std::string("libnftnl: out of memory"));
      }
      nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, spec.table.c_str());
      nftnl_set_set_str(set.get(), NFTNL_SET_NAME, message.setName.c_str());
      nftnl_set_elem_set(element, NFTNL_SET_ELEM_KEY, message.key.data(),
                         static_cast<std::uint32_t>(message.key.size()));
      if (!message.data.empty()) {
        nftnl_set_elem_set(element, NFTNL_SET_ELEM_DATA, message.data.data(),
                           static_cast<std::uint32_t>(message.data.size()));
      }
      if (message.timeoutMs) nftnl_set_elem_set_u64(element, NFTNL_SET_ELEM_TIMEOUT, *message.timeoutMs);
      nftnl_set_elem_add(set.get(), element);  // the set owns the element now
      const std::uint16_t flags =
          NLM_F_ACK | (messageType == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
      const std::uint32_t messageSeq = seq++;
      nlmsghdr* header = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)),
                                               static_cast<std::uint16_t>(messageType),
                                               NFPROTO_INET, flags, messageSeq);
      nftnl_set_elems_nlmsg_build_payload(header, set.get());
      mnl_nlmsg_batch_next(batch);
      seqs.push_back(messageSeq);
    }
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
    mnl_nlmsg_batch_next(batch);

    const ssize_t sent = mnl_socket_sendto(socket.get(), mnl_nlmsg_batch_head(batch),
                                           mnl_nlmsg_batch_size(batch));
    mnl_nlmsg_batch_stop(batch);
    if (sent < 0) return Err(std::string("nft netlink send: ") + std::strerror(errno));

    // Every message carries NLM_F_ACK, so the kernel answers each one (0 or -errno), also when
    // the batch as a whole was aborted.
    std::vector<int> results(seqs.size(), -1);
    std::size_t answered = 0;
    while (answered < seqs.size()) {
      const ssize_t got = mnl_socket_recvfrom(socket.get(), recvBuffer.data(), recvBuffer.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        return Err(std::string("nft netlink receive (waiting for the kernel's ack): ") +
                   std::strerror(errno));
      }
      auto* header = reinterpret_cast<nlmsghdr*>(recvBuffer.data());
      int remaining = static_cast<int>(got);
      while (mnl_nlmsg_ok(header, remaining)) {
        if (header->nlmsg_type == NLMSG_ERROR &&
            header->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
          const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
          for (std::size_t i = 0; i < seqs.size(); ++i) {
            if (seqs[i] == header->nlmsg_seq && results[i] == -1) {
              results[i] = -error->error;  // kernel sends -errno
              ++answered;
            }
          }
        }
        header = mnl_nlmsg_next(header, &remaining);
      }
    }
    return results;
  }

  // Key (from . to . port) and value (address . port) of a pinhole.
  static std::vector<std::uint8_t> keyOf(const Pinhole& pinhole) {
    std::vector<std::uint8_t> key;
    appendAddress(key, pinhole.from);
    appendAddress(key, pinhole.to.address);
    appendPort(key, pinhole.to.port);
    return key;
  }
  static std::vector<std::uint8_t> valueOf(const Pinhole& pinhole) {
    const Endpoint& target = pinhole.natTo ? *pinhole.natTo : pinhole.to;
    std::vector<std::uint8_t> value;
    appendAddress(value, target.address);
    appendPort(value, target.port);
    return value;
  }
};

NftBackend::NftBackend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NftBackend::~NftBackend() {
  if (impl_ && impl_->ownsTable) (void)removeTable();
}

Result<std::unique_ptr<NftBackend>> NftBackend::attach(const NftTableSpec& spec) {
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  auto socket = Impl::openSocket();
  if (!socket) return Err(socket.error());
  impl->socket = std::move(socket.value());
  impl->portId = mnl_socket_get_portid(impl->socket.get());
  impl->seq = static_cast<std::uint32_t>(::time(nullptr));
  // Probe: `nft destroy element inet ftpalg armed4 { 0.0.0.0 . 0.0.0.0 . 0 }` succeeds on an
  // absent element where the kernel knows the message, and fails (EINVAL/EOPNOTSUPP) elsewhere.
  std::vector<std::uint8_t> zeroKey(12, 0);
  const auto probe = impl->sendBatch(kMsgDestroySetElem, {{"armed4", zeroKey, {}, std::nullopt}});
  impl->hasDestroy = probe.ok() && probe.value()[0] == 0;
  return std::unique_ptr<NftBackend>(new NftBackend(std::move(impl)));
}

Result<std::unique_ptr<NftBackend>> NftBackend::create(const NftTableSpec& spec) {
  // One transaction: `add table` makes the `delete table` of a stale copy always valid, so a
  // table left by a crash is flushed and recreated atomically.
  //   nft add table inet ftpalg; nft delete table inet ftpalg; nft -f <nftTableScript()>
  const std::string script = "add table inet " + spec.table + "\n" + "delete table inet " +
                             spec.table + "\n" + nftTableScript(spec);
  if (const auto created = runNftScript(script); !created) {
    return Err("creating nft table inet " + spec.table + ": " + created.error());
  }
  auto backend = attach(spec);
  if (!backend) {
    (void)runNftScript("delete table inet " + spec.table + "\n");
    return Err(backend.error());
  }
  backend.value()->impl_->ownsTable = true;
  return backend;
}

Status<> NftBackend::open(const Pinhole& pinhole) {
  const bool v4 = pinhole.from.isV4();
  if (pinhole.to.address.family() != pinhole.from.family() ||
      (pinhole.natTo && pinhole.natTo->address.family() != pinhole.from.family())) {
    ++counters_.errors;
    return Err("pinhole " + pinholeText(pinhole) + ": mixed address families");
  }
  const std::uint64_t timeoutMs =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(pinhole.timeout).count());
  const auto key = Impl::keyOf(pinhole);
  // nft add element inet ftpalg pinholes4 { FROM . TO . PORT timeout Ns : NATTO . NATPORT }
  // nft add element inet ftpalg armed4    { FROM . TO . PORT timeout Ns }
  const std::vector<Impl::ElementMessage> messages{
      {v4 ? "pinholes4" : "pinholes6", key, Impl::valueOf(pinhole), timeoutMs},
      {v4 ? "armed4" : "armed6", key, {}, timeoutMs},
  };
  const auto results = impl_->sendBatch(NFT_MSG_NEWSETELEM, messages);
  if (!results) {
    ++counters_.errors;
    return Err("pinhole " + pinholeText(pinhole) + ": " + results.error());
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (const int error = results.value()[i]; error != 0) {
      ++counters_.errors;
      return Err("nft add element inet " + impl_->spec.table + " " + messages[i].setName + " { " +
                 elementKeyText(pinhole) + " }: " + std::strerror(error));
    }
  }
  ++counters_.opened;
  return okStatus();
}

Status<> NftBackend::close(const Pinhole& pinhole, Reason /*reason*/) {
  const bool v4 = pinhole.from.isV4();
  const auto key = Impl::keyOf(pinhole);
  // nft destroy element inet ftpalg pinholes4 { FROM . TO . PORT }   (Linux 6.3+, else `delete`)
  // nft destroy element inet ftpalg armed4    { FROM . TO . PORT }
  const std::vector<Impl::ElementMessage> both{
      {v4 ? "pinholes4" : "pinholes6", key, {}, std::nullopt},
      {v4 ? "armed4" : "armed6", key, {}, std::nullopt},
  };
  // `destroy` ignores an absent element inside the batch; `delete` fails the whole batch
  // (an aborted nft transaction, measurably slower) and needs the retry below.
  auto results = impl_->sendBatch(impl_->hasDestroy ? kMsgDestroySetElem : NFT_MSG_DELSETELEM, both);
  if (!results) {
    ++counters_.errors;
    return Err("closing pinhole " + pinholeText(pinhole) + ": " + results.error());
  }
  bool anyMissing = false;
  for (std::size_t i = 0; i < both.size(); ++i) {
    const int error = results.value()[i];
    if (error == ENOENT) anyMissing = true;
    else if (error != 0) {
      ++counters_.errors;
      return Err("nft delete element inet " + impl_->spec.table + " " + both[i].setName + " { " +
                 elementKeyText(pinhole) + " }: " + std::strerror(error));
    }
  }
  if (anyMissing) {
    // A batch is all or nothing: when one element was already gone (the armed token is consumed
    // by the data connection; both expire on their own), the other was not deleted either.
    // Delete each on its own, ignoring ENOENT.
    ++counters_.alreadyGone;
    for (const auto& message : both) {
      const auto single = impl_->sendBatch(NFT_MSG_DELSETELEM, {message});
      if (!single) {
        ++counters_.errors;
        return Err("closing pinhole " + pinholeText(pinhole) + ": " + single.error());
      }
      if (const int error = single.value()[0]; error != 0 && error != ENOENT) {
        ++counters_.errors;
        return Err("nft delete element inet " + impl_->spec.table + " " + message.setName + " { " +
                   elementKeyText(pinhole) + " }: " + std::strerror(error));
      }
    }
  }
  ++counters_.closed;
  return okStatus();
}

Status<> NftBackend::removeTable() {
  if (!impl_->ownsTable) return okStatus();
  // nft delete table inet ftpalg (removes every pinhole with it)
  std::unique_ptr<nftnl_table, NftnlTableDeleter> table(nftnl_table_alloc());
  if (!table) return Err(std::string("libnftnl: out of memory"));
  nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, impl_->spec.table.c_str());
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(impl_->sendBuffer.data(), impl_->sendBuffer.size());
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), impl_->seq++);
  mnl_nlmsg_batch_next(batch);
  const std::uint32_t deleteSeq = impl_->seq++;
  nlmsghdr* header = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)),
                                           NFT_MSG_DELTABLE, NFPROTO_INET, NLM_F_ACK, deleteSeq);
  nftnl_table_nlmsg_build_payload(header, table.get());
  mnl_nlmsg_batch_next(batch);
  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), impl_->seq++);
  mnl_nlmsg_batch_next(batch);
  const ssize_t sent = mnl_socket_sendto(impl_->socket.get(), mnl_nlmsg_batch_head(batch),
                                         mnl_nlmsg_batch_size(batch));
  mnl_nlmsg_batch_stop(batch);
  if (sent < 0) return Err(std::string("nft delete table: ") + std::strerror(errno));
  const ssize_t got = mnl_socket_recvfrom(impl_->socket.get(), impl_->recvBuffer.data(),
                                          impl_->recvBuffer.size());
  if (got < 0) return Err(std::string("nft delete table (ack): ") + std::strerror(errno));
  const int rc = mnl_cb_run(impl_->recvBuffer.data(), static_cast<std::size_t>(got), deleteSeq,
                            impl_->portId, nullptr, nullptr);
  impl_->ownsTable = false;
  if (rc < 0 && errno != ENOENT) {
    return Err("nft delete table inet " + impl_->spec.table + ": " + std::strerror(errno));
  }
  return okStatus();
}

}  // namespace ftpalg::backend
