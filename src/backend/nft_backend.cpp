// NftBackend: see nft_backend.hpp for the contracts.
#include "nft_backend.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ftpalg::backend {

namespace {

// --- libmnl / libnftnl element batches ---------------------------------------------------------

struct MnlSocketDeleter {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketDeleter>;

struct NftnlSetDeleter {
  void operator()(nftnl_set* set) const { nftnl_set_free(set); }
};
using NftnlSet = std::unique_ptr<nftnl_set, NftnlSetDeleter>;

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

// --- element batches ---------------------------------------------------------------------------

// NFT_MSG_DESTROYSETELEM (Linux 6.3+): delete an element, or nothing when it is absent, without
// failing the batch. Not in every distribution's uapi header yet.
constexpr int kMsgDestroySetElem = 30;

struct NftBackend::Impl {
  firewall::NftTableSpec spec;
  bool hasDestroy = false;  // probed in attach()
  MnlSocket socket;
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
    std::vector<std::uint8_t> data;  // map value (NEWSETELEM on a map only)
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
      const std::uint16_t flags = NLM_F_ACK | (messageType == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
      const std::uint32_t messageSeq = seq++;
      nlmsghdr* header =
          nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)),
                                static_cast<std::uint16_t>(messageType), NFPROTO_INET, flags, messageSeq);
      nftnl_set_elems_nlmsg_build_payload(header, set.get());
      mnl_nlmsg_batch_next(batch);
      seqs.push_back(messageSeq);
    }
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
    mnl_nlmsg_batch_next(batch);

    const ssize_t sent =
        mnl_socket_sendto(socket.get(), mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
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
        if (header->nlmsg_type == NLMSG_ERROR && header->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
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

NftBackend::~NftBackend() = default;

Result<std::unique_ptr<NftBackend>> NftBackend::attach(const firewall::NftTableSpec& spec) {
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  auto socket = Impl::openSocket();
  if (!socket) return Err(socket.error());
  impl->socket = std::move(socket.value());
  impl->seq = static_cast<std::uint32_t>(::time(nullptr));
  // Probe: `nft destroy element inet ftpalg armed4 { 0.0.0.0 . 0.0.0.0 . 0 }` succeeds on an
  // absent element where the kernel knows the message, and fails (EINVAL/EOPNOTSUPP) elsewhere.
  std::vector<std::uint8_t> zeroKey(12, 0);
  const auto probe = impl->sendBatch(kMsgDestroySetElem, {{"armed4", zeroKey, {}, std::nullopt}});
  impl->hasDestroy = probe.ok() && probe.value()[0] == 0;
  return std::unique_ptr<NftBackend>(new NftBackend(std::move(impl)));
}

Status<> NftBackend::open(const Pinhole& pinhole) {
  const bool v4 = pinhole.from.isV4();
  if (pinhole.to.address.family() != pinhole.from.family() ||
      (pinhole.natTo && pinhole.natTo->address.family() != pinhole.from.family())) {
    return Err("pinhole " + pinholeText(pinhole) + ": mixed address families");
  }
  const std::uint64_t timeoutMs = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(pinhole.timeout).count());
  const auto key = Impl::keyOf(pinhole);
  // nft add element inet ftpalg pinholes4 { FROM . TO . PORT timeout Ns : NATTO . NATPORT }
  // nft add element inet ftpalg armed4    { FROM . TO . PORT timeout Ns }
  const std::vector<Impl::ElementMessage> messages{
      {v4 ? "pinholes4" : "pinholes6", key, Impl::valueOf(pinhole), timeoutMs},
      {v4 ? "armed4" : "armed6", key, {}, timeoutMs},
  };
  const auto results = impl_->sendBatch(NFT_MSG_NEWSETELEM, messages);
  if (!results) {
    return Err("pinhole " + pinholeText(pinhole) + ": " + results.error());
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (const int error = results.value()[i]; error != 0) {
      return Err("nft add element inet " + impl_->spec.table + " " + messages[i].setName + " { " +
                 elementKeyText(pinhole) + " }: " + std::strerror(error));
    }
  }
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
    return Err("closing pinhole " + pinholeText(pinhole) + ": " + results.error());
  }
  bool anyMissing = false;
  for (std::size_t i = 0; i < both.size(); ++i) {
    const int error = results.value()[i];
    if (error == ENOENT)
      anyMissing = true;
    else if (error != 0) {
      return Err("nft delete element inet " + impl_->spec.table + " " + both[i].setName + " { " +
                 elementKeyText(pinhole) + " }: " + std::strerror(error));
    }
  }
  if (anyMissing) {
    // A batch is all or nothing: when one element was already gone (the armed token is consumed
    // by the data connection; both expire on their own), the other was not deleted either.
    // Delete each on its own, ignoring ENOENT.
    for (const auto& message : both) {
      const auto single = impl_->sendBatch(NFT_MSG_DELSETELEM, {message});
      if (!single) {
        return Err("closing pinhole " + pinholeText(pinhole) + ": " + single.error());
      }
      if (const int error = single.value()[0]; error != 0 && error != ENOENT) {
        return Err("nft delete element inet " + impl_->spec.table + " " + message.setName + " { " +
                   elementKeyText(pinhole) + " }: " + std::strerror(error));
      }
    }
  }
  return okStatus();
}

}  // namespace ftpalg::backend
