// FakeWal/FakeAppender: an in-memory stand-in for the WAL behind wal::Appender, recording
// committed samples with their labels. Thread-safe (scrapes may commit from worker threads).
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "wal/appender.h"

namespace petrel::scrape::testing {

// A WAL stand-in: a series store (labels <-> ref) and the committed samples.
struct FakeWal {
  std::mutex mu;  // guards everything below
  std::map<Labels, wal::SeriesRef> refs;
  std::map<wal::SeriesRef, Labels> labels;
  std::map<wal::SeriesRef, int64_t> last_ts;
  struct Sample {
    Labels labels;
    int64_t t;
    double v;
  };
  std::vector<Sample> committed;
  int label_lookups = 0;  // appends that had to go through labels
  int commits = 0;
  int rollbacks = 0;
};

class FakeAppender : public wal::Appender {
 public:
  explicit FakeAppender(FakeWal& wal) : wal_(wal) {}
  Result<wal::SeriesRef> Append(wal::SeriesRef ref, const Labels& l, int64_t t, double v) override {
    std::lock_guard lock(wal_.mu);
    if (wal_.labels.count(ref) == 0) {
      if (l.empty()) return Status::InvalidArgument("empty labels");
      ++wal_.label_lookups;
      auto [it, inserted] = wal_.refs.try_emplace(l, wal_.refs.size() + 1);
      ref = it->second;
      wal_.labels[ref] = l;
    }
    auto last = wal_.last_ts.find(ref);
    if (last != wal_.last_ts.end() && t <= last->second) {
      return Status::InvalidArgument("out of order sample");
    }
    pending_.push_back({wal_.labels[ref], t, v});
    return ref;
  }
  Status Commit() override {
    std::lock_guard lock(wal_.mu);
    for (auto& s : pending_) {
      wal_.last_ts[wal_.refs[s.labels]] = s.t;
      wal_.committed.push_back(s);
    }
    ++wal_.commits;
    pending_.clear();
    return Status::Ok();
  }
  void Rollback() override {
    std::lock_guard lock(wal_.mu);
    ++wal_.rollbacks;
    pending_.clear();
  }

 private:
  FakeWal& wal_;
  std::vector<FakeWal::Sample> pending_;
};

}  // namespace petrel::scrape::testing
