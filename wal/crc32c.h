// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of every WAL fragment,
// as Go's hash/crc32 computes it with the Castagnoli table. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace petrel::wal {

// Continues a CRC-32C over data; Crc32c(a + b) == Crc32cExtend(Crc32c(a), b).
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

// The portable (table-driven) path, exposed so tests can compare it with the hardware path.
uint32_t Crc32cExtendPortable(uint32_t crc, std::string_view data);

}  // namespace petrel::wal
