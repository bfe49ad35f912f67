#include "common/hash128.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_generateSecret (exported by libxxhash 0.8)
#include <xxhash.h>

#include <array>
#include <random>

namespace petrel {
namespace {

// A secret rather than a seed: XXH3 with a seed derives a secret from it on every call for
// inputs over 240 bytes, and a secret of the default size keeps XXH3's fast path.
using Secret = std::array<unsigned char, XXH3_SECRET_DEFAULT_SIZE>;

const Secret& ProcessSecret() {
  static const Secret secret = [] {
    std::random_device rd;
    std::array<uint32_t, 8> seed{};
    for (uint32_t& w : seed) w = rd();
    Secret s{};
    XXH3_generateSecret(s.data(), s.size(), seed.data(), sizeof seed);
    return s;
  }();
  return secret;
}

}  // namespace

Hash128 Hash128Of(std::string_view bytes) {
  const Secret& secret = ProcessSecret();
  const XXH128_hash_t h =
      XXH3_128bits_withSecret(bytes.data(), bytes.size(), secret.data(), secret.size());
  return {.lo = h.low64, .hi = h.high64};
}

}  // namespace petrel
