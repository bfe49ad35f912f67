// Helpers shared by the libFuzzer targets: a failed oracle aborts, so libFuzzer keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>

// Like assert, but also in release builds (the fuzz build is RelWithDebInfo, NDEBUG set).
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
