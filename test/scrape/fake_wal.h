// FakeWal/FakeAppender: an in-memory stand-in for the WAL behind wal::Appender, recording
// committed samples, native histograms and exemplars with their series' labels. Thread-safe
// (scrapes may commit from worker threads).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
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
  struct HistogramSample {
    Labels labels;
    int64_t t;
    std::optional<Histogram> h;
    std::optional<FloatHistogram> fh;
  };
  std::vector<HistogramSample> histograms;
  struct ExemplarRecord {
    Labels series;
    int64_t t;
    double v;
    Labels labels;
  };
  std::vector<ExemplarRecord> exemplars;
  // Samples of the series with this __name__ are rejected with `reject_message` (a rejection
  // other than out of order, as the WAL's for an invalid histogram). Empty: none.
  std::string reject_name;
  std::string reject_message = "invalid native histogram: rejected by the test";
  int label_lookups = 0;  // appends that had to go through labels
  int commits = 0;
  int rollbacks = 0;
};

class FakeAppender : public wal::Appender {
 public:
  explicit FakeAppender(FakeWal& wal) : wal_(wal) {}
  Result<wal::SeriesRef> Append(wal::SeriesRef ref, const Labels& l, int64_t t, double v) override {
    std::lock_guard lock(wal_.mu);
    auto admitted = Admit(ref, l, t);
    if (!admitted.ok()) return admitted;
    ref = *admitted;
    pending_.push_back({wal_.labels[ref], t, v});
    return ref;
  }
  Result<wal::SeriesRef> AppendHistogram(wal::SeriesRef ref, const Labels& l, int64_t t,
                                         const Histogram* h, const FloatHistogram* fh) override {
    if ((h == nullptr) == (fh == nullptr)) return Status::InvalidArgument("need h or fh");
    std::lock_guard lock(wal_.mu);
    auto admitted = Admit(ref, l, t);
    if (!admitted.ok()) return admitted;
    ref = *admitted;
    FakeWal::HistogramSample s{wal_.labels[ref], t, std::nullopt, std::nullopt};
    if (h != nullptr) s.h = *h;
    if (fh != nullptr) s.fh = *fh;
    pending_histograms_.push_back(std::move(s));
    return ref;
  }
  Status AppendExemplar(wal::SeriesRef ref, int64_t t, double v, const Labels& l) override {
    std::lock_guard lock(wal_.mu);
    if (wal_.labels.count(ref) == 0) return Status::InvalidArgument("unknown series ref");
    pending_exemplars_.push_back({wal_.labels[ref], t, v, l});
    return Status::Ok();
  }
  Status Commit() override {
    std::lock_guard lock(wal_.mu);
    for (auto& s : pending_) {
      wal_.last_ts[wal_.refs[s.labels]] = s.t;
      wal_.committed.push_back(s);
    }
    for (auto& s : pending_histograms_) {
      wal_.last_ts[wal_.refs[s.labels]] = s.t;
      wal_.histograms.push_back(s);
    }
    for (auto& e : pending_exemplars_) wal_.exemplars.push_back(e);
    ++wal_.commits;
    pending_.clear();
    pending_histograms_.clear();
    pending_exemplars_.clear();
    return Status::Ok();
  }
  void Rollback() override {
    std::lock_guard lock(wal_.mu);
    ++wal_.rollbacks;
    pending_.clear();
    pending_histograms_.clear();
    pending_exemplars_.clear();
  }

 private:
  // The series `ref` (or, when unknown, the one with labels l, registered if new) may take a
  // sample at t: the ref, or the error the WAL would give. Called with wal_.mu held.
  Result<wal::SeriesRef> Admit(wal::SeriesRef ref, const Labels& l, int64_t t) {
    if (wal_.labels.count(ref) == 0) {
      if (l.empty()) return Status::InvalidArgument("empty labels");
      ++wal_.label_lookups;
      auto [it, inserted] = wal_.refs.try_emplace(l, wal_.refs.size() + 1);
      ref = it->second;
      wal_.labels[ref] = l;
    }
    if (!wal_.reject_name.empty() && wal_.labels[ref].Get("__name__") == wal_.reject_name) {
      return Status::InvalidArgument(wal_.reject_message);
    }
    auto last = wal_.last_ts.find(ref);
    if (last != wal_.last_ts.end() && t <= last->second) {
      return Status::InvalidArgument("out of order sample");
    }
    return ref;
  }

  FakeWal& wal_;
  std::vector<FakeWal::Sample> pending_;
  std::vector<FakeWal::HistogramSample> pending_histograms_;
  std::vector<FakeWal::ExemplarRecord> pending_exemplars_;
};

}  // namespace petrel::scrape::testing
