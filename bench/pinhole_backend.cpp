// Pinhole backend benchmark (issue 6, docs/performance.md): what installing and removing one
// pinhole costs, in wall time from the call to the kernel's acknowledgement, the time the
// announcing packet is held for.
//
// Needs root (CAP_NET_ADMIN). It unshares a network namespace of its own first, so the table it
// creates (`inet ftpalg_bench`) never touches the host's ruleset and vanishes with the process.
//
// Reference, same run, same kind of socket: BM_NetlinkGetGen, one NFT_MSG_GETGEN request and its
// answer on a NETLINK_NETFILTER socket (the round trip any nft message pays, with no transaction).
// BM_PinholeOpen and BM_PinholeClose are one NftBackend::open()/close() each: a batch of two
// element messages (map element + armed token), committed as one nf_tables transaction.
// Arg = pinholes already present in the sets (the sets' size while the measured ones come and go).
#include <benchmark/benchmark.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nf_tables.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "backend/nft_backend.hpp"
#include "firewall/pinhole_table.hpp"
#include "ftpalg/engine/outcome.hpp"

namespace ftpalg::bench {
namespace {

// The table and one backend on it, as `ftpalg run` has them; the backend goes first at exit.
struct BenchTable {
  std::optional<firewall::PinholeTable> table;
  std::unique_ptr<backend::NftBackend> backend;
};

backend::NftBackend& backendInstance() {
  static BenchTable instance = [] {
    BenchTable made;
    firewall::NftTableSpec spec;
    spec.table = "ftpalg_bench";
    auto created = firewall::PinholeTable::create(spec);
    if (!created) {
      std::fprintf(stderr, "pinhole_backend: cannot create the nft table: %s\n", created.error().c_str());
      std::exit(1);
    }
    made.table.emplace(std::move(created.value()));
    auto attached = backend::NftBackend::attach(made.table->spec());
    if (!attached) {
      std::fprintf(stderr, "pinhole_backend: cannot open the nft backend: %s\n", attached.error().c_str());
      std::exit(1);
    }
    made.backend = std::move(attached.value());
    return made;
  }();
  return *instance.backend;
}

// Pinhole number i: server 198.51.100.(7 + i / 60000) connects to 203.0.113.1:(1024 + i % 60000)
// and goes to 192.168.77.10:same port. Keys (from . to . port) are distinct for i < 60000 * 240.
Pinhole pinholeNumber(std::uint32_t i) {
  Pinhole pinhole;
  pinhole.id = i;
  pinhole.from = *IpAddress::parse("198.51.100." + std::to_string(7 + i / 60000));
  const auto port = static_cast<std::uint16_t>(1024 + i % 60000);
  pinhole.to = Endpoint{*IpAddress::parse("203.0.113.1"), port};
  pinhole.natTo = Endpoint{*IpAddress::parse("192.168.77.10"), port};
  pinhole.timeout = std::chrono::seconds(600);
  return pinhole;
}

// Keeps `wanted` pinholes present (numbers from 1,000,000 up, out of the measured range).
void keepResident(std::size_t wanted) {
  static std::size_t resident = 0;
  backend::NftBackend& nft = backendInstance();
  while (resident < wanted) {
    if (auto opened = nft.open(pinholeNumber(static_cast<std::uint32_t>(1'000'000 + resident))); !opened) {
      std::fprintf(stderr, "pinhole_backend: open: %s\n", opened.error().c_str());
      std::exit(1);
    }
    ++resident;
  }
}

// One open() and one close() per iteration; only `timed` is inside the timing, the other runs
// paused. Either failing ends the benchmark with the backend's error.
enum class TimedCall { Open, Close };
void openAndClose(benchmark::State& state, TimedCall timed) {
  keepResident(static_cast<std::size_t>(state.range(0)));
  backend::NftBackend& nft = backendInstance();
  std::uint32_t i = 0;
  for (auto _ : state) {
    const Pinhole pinhole = pinholeNumber(i++ % 50'000);
    if (timed != TimedCall::Open) state.PauseTiming();
    const Status<> opened = nft.open(pinhole);
    if (timed != TimedCall::Open) state.ResumeTiming();
    if (!opened) {
      state.SkipWithError(opened.error().c_str());
      break;
    }
    if (timed != TimedCall::Close) state.PauseTiming();
    const Status<> closed = nft.close(pinhole, Reason::Expired);
    if (timed != TimedCall::Close) state.ResumeTiming();
    if (!closed) {
      state.SkipWithError(closed.error().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(timed == TimedCall::Open ? "pinholes opened" : "pinholes closed");
}

void BM_PinholeOpen(benchmark::State& state) { openAndClose(state, TimedCall::Open); }
BENCHMARK(BM_PinholeOpen)->Arg(0)->Arg(1000)->Arg(10'000)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_PinholeClose(benchmark::State& state) { openAndClose(state, TimedCall::Close); }
BENCHMARK(BM_PinholeClose)->Arg(0)->Arg(10'000)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Reference: NFT_MSG_GETGEN and its NFT_MSG_NEWGEN answer, no transaction.
void BM_NetlinkGetGen(benchmark::State& state) {
  mnl_socket* socket = mnl_socket_open(NETLINK_NETFILTER);
  if (socket == nullptr || mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    if (socket != nullptr) mnl_socket_close(socket);
    state.SkipWithError("netlink socket");
    return;
  }
  const unsigned portId = mnl_socket_get_portid(socket);
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  std::uint32_t seq = 1;
  for (auto _ : state) {
    // nlmsghdr + nfgenmsg, as NftBackend builds its element messages (libnftnl).
    nlmsghdr* header = nftnl_nlmsg_build_hdr(buffer.data(), NFT_MSG_GETGEN, AF_UNSPEC, 0, ++seq);
    if (mnl_socket_sendto(socket, header, header->nlmsg_len) < 0) {
      state.SkipWithError("sendto");
      break;
    }
    const ssize_t got = mnl_socket_recvfrom(socket, buffer.data(), buffer.size());
    if (got < 0 ||
        mnl_cb_run(buffer.data(), static_cast<std::size_t>(got), seq, portId, nullptr, nullptr) < 0) {
      state.SkipWithError("recv");
      break;
    }
  }
  mnl_socket_close(socket);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("round trips");
}
BENCHMARK(BM_NetlinkGetGen)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace ftpalg::bench

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "pinhole_backend: needs root (it creates a network namespace and an nft table)\n");
    return 1;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "pinhole_backend: unshare(CLONE_NEWNET): %s\n", std::strerror(errno));
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
