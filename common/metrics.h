// Self-monitoring metrics: counters, gauges and histograms in families with label names, rendered
// in the Prometheus text format 0.0.4 for the agent's /metrics endpoint.
//
// Modules take a Registry& and hold on to the Counter*/Gauge*/HistogramMetric* they asked for;
// those pointers stay valid for the registry's lifetime. Updating a metric is lock-free.
// Registration and rendering are thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace petrel {

class Counter {
 public:
  void Inc(double v = 1) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// (Named apart from petrel::Histogram, the native histogram of common/histogram.h.)
class HistogramMetric {
 public:
  explicit HistogramMetric(std::vector<double> upper_bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, one per bound
  std::atomic<uint64_t> count_{0};
  Counter sum_;
};

// Default latency buckets of Prometheus's client (.005 .. 10 s).
std::vector<double> DefaultBuckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the child of family `name` with these label values (creating both on first use).
  // label_names and label_values pair up by position; the family's help and label names are
  // fixed by its first registration.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const std::vector<std::string>& label_names = {},
                      const std::vector<std::string>& label_values = {});
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const std::vector<std::string>& label_names = {},
                  const std::vector<std::string>& label_values = {});
  HistogramMetric* GetHistogram(const std::string& name, const std::string& help,
                                std::vector<double> buckets,
                                const std::vector<std::string>& label_names = {},
                                const std::vector<std::string>& label_values = {});
  // A gauge computed when rendered (e.g. bytes on disk). fn must be thread-safe.
  void AddGaugeFunc(const std::string& name, const std::string& help, std::function<double()> fn);
  // A counter computed when rendered (e.g. CPU seconds from /proc). fn must be thread-safe.
  void AddCounterFunc(const std::string& name, const std::string& help, std::function<double()> fn);

  // The whole registry in text format 0.0.4, families sorted by name.
  std::string Render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram, kGaugeFunc, kCounterFunc };
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<HistogramMetric> histogram;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<std::string> label_names;
    std::map<std::vector<std::string>, Child> children;
    std::function<double()> fn;
  };
  Family& GetFamily(const std::string& name, Kind kind, const std::string& help,
                    const std::vector<std::string>& label_names);

  mutable std::mutex mu_;  // guards families_ (the map, not the metric values)
  std::map<std::string, Family> families_;
};

// Formats a float as the text format does: "NaN", "+Inf", "-Inf", or the shortest
// round-tripping decimal.
std::string FormatFloat(double v);

}  // namespace petrel
