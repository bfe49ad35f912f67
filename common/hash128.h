// Hash128Of: XXH3-128 (Debian's libxxhash) of a byte string under a secret drawn at random once
// per process. The scrape cache and the WAL series store both take a series to be the same
// series when the 128-bit hashes of its bytes are equal, so the hash must be unpredictable to
// whoever writes those bytes: XXH3 does not resist inputs crafted against a known secret (its
// public default one included), but a target cannot craft collisions against a secret it never
// sees. Hashes are never persisted or compared across processes.
#pragma once

#include <cstdint>
#include <string_view>

namespace petrel {

struct Hash128 {
  uint64_t lo = 0;
  uint64_t hi = 0;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

Hash128 Hash128Of(std::string_view bytes);

}  // namespace petrel
