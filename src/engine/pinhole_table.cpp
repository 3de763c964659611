// PinholeTable: see include/ftpalg/engine/pinhole_table.hpp.
#include "ftpalg/engine/pinhole_table.hpp"

#include <algorithm>

namespace ftpalg {

const Pinhole* PinholeTable::find(std::uint64_t id) const {
  const auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : &it->second;
}

const Pinhole& PinholeTable::open(const FlowKey& control, const IpAddress& from, const Endpoint& to,
                                  std::optional<Endpoint> natTo, std::chrono::seconds timeout, Timestamp now,
                                  const NatMapping& controlNat, Direction announcedBy) {
  Pinhole pinhole;
  pinhole.id = nextId_++;
  pinhole.control = control;
  pinhole.from = from;
  pinhole.to = to;
  pinhole.natTo = natTo;
  pinhole.timeout = timeout;
  pinhole.expires = now + timeout;
  pinhole.controlNat = controlNat;
  pinhole.announcedBy = announcedBy;
  bySlot_[Slot{from, to}] = pinhole.id;
  byExpiry_.emplace(pinhole.expires, pinhole.id);
  return byId_.emplace(pinhole.id, pinhole).first->second;
}

std::optional<Pinhole> PinholeTable::close(std::uint64_t id) {
  const auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  const Pinhole pinhole = it->second;
  byId_.erase(it);
  const auto slot = bySlot_.find(Slot{pinhole.from, pinhole.to});
  if (slot != bySlot_.end() && slot->second == id) bySlot_.erase(slot);
  auto [first, last] = byExpiry_.equal_range(pinhole.expires);
  for (auto e = first; e != last; ++e) {
    if (e->second == id) {
      byExpiry_.erase(e);
      break;
    }
  }
  return pinhole;
}

std::optional<std::uint64_t> PinholeTable::holder(const IpAddress& from, const Endpoint& to) const {
  const auto slot = bySlot_.find(Slot{from, to});
  if (slot == bySlot_.end()) return std::nullopt;
  return slot->second;
}

std::optional<std::uint16_t> PinholeTable::choosePublicPort(const IpAddress& connector,
                                                            const IpAddress& address, std::uint16_t port,
                                                            std::optional<std::uint64_t> own,
                                                            std::uint16_t portFloor) const {
  std::uint32_t candidate = port;
  for (int i = 0; i < kPortProbes; ++i) {
    if (candidate > 65535) candidate = std::max<std::uint32_t>(portFloor, 1024);
    const auto slot = bySlot_.find(Slot{connector, Endpoint{address, static_cast<std::uint16_t>(candidate)}});
    if (slot == bySlot_.end() || (own && slot->second == *own)) {
      return static_cast<std::uint16_t>(candidate);
    }
    ++candidate;
  }
  return std::nullopt;
}

std::optional<Timestamp> PinholeTable::nextExpiry() const {
  if (byExpiry_.empty()) return std::nullopt;
  return byExpiry_.begin()->first;
}

std::optional<std::uint64_t> PinholeTable::firstExpiredBy(Timestamp now) const {
  if (byExpiry_.empty() || byExpiry_.begin()->first > now) return std::nullopt;
  return byExpiry_.begin()->second;
}

std::optional<std::uint64_t> PinholeTable::lowestId() const {
  if (byId_.empty()) return std::nullopt;
  return byId_.begin()->first;
}

std::vector<Pinhole> PinholeTable::list() const {
  std::vector<Pinhole> all;
  all.reserve(byId_.size());
  for (const auto& [id, pinhole] : byId_) all.push_back(pinhole);
  return all;
}

}  // namespace ftpalg
