#pragma once
// The service's metrics in the Prometheus text exposition format (0.0.4).
// Debian 12 packages no Prometheus client library for C++ (no prometheus-cpp),
// so this is a small writer: a family is a metric name with label names, and
// holds one series per set of label values. Each family has its own mutex;
// the service updates a few series per request, far from contention.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace fastbert::serve {

class MetricFamily {
 public:
  enum class Kind { counter, gauge, histogram };
  // `bounds`: the upper bounds of a histogram's buckets, ascending (+Inf is implied).
  MetricFamily(std::string name, std::string help, Kind kind, std::vector<std::string> label_names,
               std::vector<double> bounds = {});

  void add(const std::vector<std::string>& label_values, double v = 1);  // counter, gauge
  void set(const std::vector<std::string>& label_values, double v);      // gauge
  void observe(const std::vector<std::string>& label_values, double v);  // histogram

  // Counter or gauge value, or a histogram's observation count; 0 for a series never touched.
  double value(const std::vector<std::string>& label_values) const;
  // Appends # HELP, # TYPE and every series.
  void write(std::string* out) const;

 private:
  struct Series {
    double value = 0;              // counter, gauge
    std::vector<uint64_t> counts;  // histogram: per bucket (not cumulative), +Inf last
    double sum = 0;
    uint64_t count = 0;
  };
  Series& series(const std::vector<std::string>& label_values);  // mutex held

  std::string name_, help_;
  Kind kind_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, Series> series_;
};

// Everything `GET /metrics` shows.
struct ServeMetrics {
  ServeMetrics();
  MetricFamily requests;         // {model, endpoint, status}
  MetricFamily queue_seconds;    // {model}: admission to the start of its batch's forward pass
  MetricFamily compute_seconds;  // {model}: the batch's forward passes and span selection
  MetricFamily batch_windows;    // {model}: windows per batch
  MetricFamily request_windows;  // {model}: windows per request
  MetricFamily window_tokens;    // {model}: valid tokens per window run (the rest of max_seq is padding)
  MetricFamily queue_depth;      // {model}: questions waiting
  std::string exposition() const;
};

}  // namespace fastbert::serve
