// The Petrel version, reported by --version, the User-Agent and petrel_build_info.
#pragma once

namespace petrel {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace petrel
