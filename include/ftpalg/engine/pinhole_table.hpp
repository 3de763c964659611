// PinholeTable: the engine's pending pinholes and their three indexes:
//   - by id (ids start at 1 and are never reused; ascending order is the shutdown order);
//   - by slot, the (connecting peer, destination endpoint) pair a pinhole admits: one pinhole per
//     slot, which is what the public-port choice probes;
//   - by expiry (earliest first; equal expiry times in opening order).
// Pure bookkeeping: the engine (engine.cpp) turns every open and close into a pinhole action, an
// observation and a counter, and keeps each session's link to its pinhole.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ftpalg/core/ip_address.hpp"
#include "ftpalg/core/time.hpp"
#include "ftpalg/engine/outcome.hpp"

namespace ftpalg {

class PinholeTable {
 public:
  // How far choosePublicPort() probes upwards from the announced port.
  static constexpr int kPortProbes = 64;

  std::size_t size() const { return byId_.size(); }
  bool empty() const { return byId_.empty(); }
  const Pinhole* find(std::uint64_t id) const;

  // Records a pinhole admitting one connection from `from` to `to` (forwarded to `natTo` when
  // set) until now + timeout, under the next id, and makes it the holder of its slot (a previous
  // holder keeps its id and expiry but no longer owns the slot). `controlNat` and `announcedBy`
  // are stored as given (Pinhole). Returns the new pinhole.
  const Pinhole& open(const FlowKey& control, const IpAddress& from, const Endpoint& to,
                      std::optional<Endpoint> natTo, std::chrono::seconds timeout, Timestamp now,
                      const NatMapping& controlNat = {}, Direction announcedBy = Direction::ClientToServer);
  // Removes pinhole `id` from every index; nullopt when there is no such pinhole.
  std::optional<Pinhole> close(std::uint64_t id);

  // The pinhole holding slot (from, to), if any.
  std::optional<std::uint64_t> holder(const IpAddress& from, const Endpoint& to) const;

  // The public port to announce at `address` for a data connection from `connector`: `port`
  // itself unless a pinhole other than `own` already holds (connector, address:port); then the
  // next free port upwards, at most kPortProbes candidates in all, wrapping from 65535 to
  // max(portFloor, 1024). nullopt when every candidate is taken.
  std::optional<std::uint16_t> choosePublicPort(const IpAddress& connector, const IpAddress& address,
                                                std::uint16_t port, std::optional<std::uint64_t> own,
                                                std::uint16_t portFloor) const;

  // Every pinhole, by ascending id (the engine's pending pinholes, for Engine::pinholes()).
  const std::map<std::uint64_t, Pinhole>& byId() const { return byId_; }

  // The earliest expiry time; nullopt when the table is empty.
  std::optional<Timestamp> nextExpiry() const;
  // The id of the first pinhole to expire, when it expires at or before `now`.
  std::optional<std::uint64_t> firstExpiredBy(Timestamp now) const;
  // Every pinhole, by id.
  std::vector<Pinhole> list() const;
  // The lowest id; nullopt when the table is empty.
  std::optional<std::uint64_t> lowestId() const;

 private:
  struct Slot {
    IpAddress from;
    Endpoint to;
    friend bool operator==(const Slot&, const Slot&) = default;
  };
  struct SlotHash {
    std::size_t operator()(const Slot& slot) const noexcept {
      return EndpointHash{}(slot.to) * 31 + EndpointHash{}(Endpoint{slot.from, 0});
    }
  };

  std::map<std::uint64_t, Pinhole> byId_;
  std::unordered_map<Slot, std::uint64_t, SlotHash> bySlot_;
  std::multimap<Timestamp, std::uint64_t> byExpiry_;
  std::uint64_t nextId_ = 1;
};

}  // namespace ftpalg
