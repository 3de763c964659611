// FlowTable: the engine's session table, an open-addressing hash table from FlowKey to a value
// (the engine stores std::unique_ptr<Session>).
//
// Why not std::unordered_map: with 100k sessions the table does not fit in cache, and a chained
// lookup costs a miss on the bucket array, one on the node before the bucket's first node, and
// one per node compared (issue 6: per-packet cost must stay flat from 1k to 100k sessions). Here
// a lookup reads one slot (hash, key and value side by side, 64 bytes) and, on a collision, the
// slots right after it, usually in the same or the next cache line.
//
// Contract:
//  - Linear probing over a power-of-two array of slots, at most half full (grows x2 before an
//    insert would exceed that). Deletion shifts later members of the probe run back (no
//    tombstones), so lookups never walk over deleted entries.
//  - The stored hash is FlowKeyHash's value passed through a 64-bit finalizer (so every bit of
//    the key reaches the low bits used as the index), with bit 63 set: 0 marks an empty slot.
//  - Pointers and slot indices returned are invalidated by emplace (growth) and erase (shifts);
//    the values themselves are moved, never copied.
//  - Slot order is deterministic for a given sequence of operations (no randomness), so replay
//    decisions are reproducible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "ftpalg/core/ip_address.hpp"

namespace ftpalg {

template <typename Value>
class FlowTable {
 public:
  explicit FlowTable(std::size_t initialSlots = 16) : slots_(roundUpPowerOfTwo(initialSlots)) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Number of slots (a power of two); indices for slotKey/slotValue are [0, slotCount()).
  std::size_t slotCount() const { return slots_.size(); }

  Value* find(const FlowKey& key) {
    const std::optional<std::size_t> at = locate(key, hashOf(key));
    return at ? &slots_[*at].value : nullptr;
  }

  // Inserts key -> value when the key is absent. Returns the stored value and whether it was
  // inserted (false: the key was present, its value is unchanged and `value` is dropped).
  std::pair<Value*, bool> emplace(const FlowKey& key, Value value) {
    const std::uint64_t hash = hashOf(key);
    if (const auto at = locate(key, hash)) return {&slots_[*at].value, false};
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::size_t at = placeNew(hash);
    slots_[at].hash = hash;
    slots_[at].key = key;
    slots_[at].value = std::move(value);
    ++size_;
    return {&slots_[at].value, true};
  }

  // Removes the key; false when it was absent.
  bool erase(const FlowKey& key) {
    const std::optional<std::size_t> at = locate(key, hashOf(key));
    if (!at) return false;
    eraseSlot(*at);
    return true;
  }

  // Slot access, for sweeps over the table in slices: nullptr for an empty slot.
  const FlowKey* slotKey(std::size_t slot) const {
    return slots_[slot].hash != 0 ? &slots_[slot].key : nullptr;
  }
  Value* slotValue(std::size_t slot) { return slots_[slot].hash != 0 ? &slots_[slot].value : nullptr; }
  const Value* slotValue(std::size_t slot) const {
    return slots_[slot].hash != 0 ? &slots_[slot].value : nullptr;
  }

  // The member in the lowest-numbered occupied slot (nullopt when empty).
  std::optional<std::size_t> firstSlot() const {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].hash != 0) return i;
    }
    return std::nullopt;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;  // 0: empty
    FlowKey key{};
    Value value{};
  };

  static std::size_t roundUpPowerOfTwo(std::size_t n) {
    std::size_t power = 8;
    while (power < n) power *= 2;
    return power;
  }

  static std::uint64_t hashOf(const FlowKey& key) {
    // MurmurHash3's fmix64 finalizer: FNV-1a's last multiply leaves low bits that depend on few
    // input bits; the index uses the low bits.
    std::uint64_t h = FlowKeyHash{}(key);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h | (std::uint64_t{1} << 63);
  }

  std::size_t mask() const { return slots_.size() - 1; }

  std::optional<std::size_t> locate(const FlowKey& key, std::uint64_t hash) const {
    for (std::size_t at = hash & mask();; at = (at + 1) & mask()) {
      const Slot& slot = slots_[at];
      if (slot.hash == 0) return std::nullopt;
      if (slot.hash == hash && slot.key == key) return at;
    }
  }

  // First empty slot of the probe run starting at hash's home slot. Requires a free slot.
  std::size_t placeNew(std::uint64_t hash) const {
    std::size_t at = hash & mask();
    while (slots_[at].hash != 0) at = (at + 1) & mask();
    return at;
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (Slot& slot : old) {
      if (slot.hash == 0) continue;
      const std::size_t at = placeNew(slot.hash);
      slots_[at] = std::move(slot);
    }
  }

  // Backward-shift deletion (Knuth 6.4, algorithm R): members of the run after the hole move
  // back into it unless their home slot lies cyclically in (hole, member].
  void eraseSlot(std::size_t hole) {
    for (std::size_t at = (hole + 1) & mask();; at = (at + 1) & mask()) {
      Slot& slot = slots_[at];
      if (slot.hash == 0) break;
      const std::size_t home = slot.hash & mask();
      const bool homeBetween = hole <= at ? (hole < home && home <= at) : (hole < home || home <= at);
      if (homeBetween) continue;
      slots_[hole] = std::move(slot);
      hole = at;
    }
    slots_[hole].hash = 0;
    slots_[hole].value = Value{};
    --size_;
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace ftpalg
