// Drives a scrape::Parser over a whole body the way the scrape loop and `petrel check` do, and
// checks the header's contracts on every entry.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "scrape/parser.h"

namespace petrel::fuzz {

struct ParseOutcome {
  bool ok = false;
  int samples = 0;
  int entries = 0;
};

inline ParseOutcome DriveParser(scrape::Parser& p) {
  ParseOutcome out;
  LabelsBuilder b;
  int last_line = 0;
  for (;;) {
    Result<scrape::EntryType> e = p.Next();
    if (!e.ok()) {
      // Errors name their line (parser.h: "line N: <problem>").
      FUZZ_CHECK(e.status().code() == Code::kInvalidArgument);
      FUZZ_CHECK(e.status().message().rfind("line ", 0) == 0);
      return out;
    }
    if (*e == scrape::EntryType::kEof) {
      out.ok = true;
      return out;
    }
    ++out.entries;
    // Lines only move forward.
    FUZZ_CHECK(p.Line() >= last_line && p.Line() >= 1);
    last_line = p.Line();
    switch (*e) {
      case scrape::EntryType::kSample: {
        ++out.samples;
        (void)p.Series().size();
        b.Clear();
        p.AddLabels(b);
        Labels labels = b.Build();
        FUZZ_CHECK(!labels.Get(kMetricName).empty());
        for (const Label& l : labels) FUZZ_CHECK(!l.value.empty());
        double v = p.Value();
        if (std::isnan(v)) {
          uint64_t bits;
          std::memcpy(&bits, &v, sizeof bits);
          FUZZ_CHECK(bits == 0x7ff8000000000001ULL);  // canonical NaN, never a stale marker
        }
        (void)p.Timestamp();
        scrape::Exemplar ex;
        if (p.GetExemplar(&ex)) (void)ex.labels.size();
        break;
      }
      case scrape::EntryType::kType:
        (void)p.Family();
        (void)p.Type();
        break;
      case scrape::EntryType::kHelp:
      case scrape::EntryType::kUnit:
        (void)p.Family();
        (void)p.Text().size();
        break;
      case scrape::EntryType::kComment:
        (void)p.Text().size();
        break;
      case scrape::EntryType::kEof:
      case scrape::EntryType::kHistogram:  // protobuf only
        break;
    }
  }
}

}  // namespace petrel::fuzz
