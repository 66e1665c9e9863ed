#include "fastbert/serve/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace fastbert::serve {

namespace {

// Label values escape backslash, double quote and newline; HELP text escapes
// backslash and newline (the exposition format's rules).
std::string escaped(const std::string& s, bool quote) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quote)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  return std::string(buf, r.ptr);
}

std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& extra = {}) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + escaped(values[i], true) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

MetricFamily::MetricFamily(std::string name, std::string help, Kind kind, std::vector<std::string> label_names,
                           std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      kind_(kind),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

MetricFamily::Series& MetricFamily::series(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size())
    throw std::logic_error(name_ + ": " + std::to_string(label_values.size()) + " label values for " +
                           std::to_string(label_names_.size()) + " labels");
  Series& s = series_[label_values];
  if (kind_ == Kind::histogram && s.counts.empty()) s.counts.assign(bounds_.size() + 1, 0);
  return s;
}

void MetricFamily::add(const std::vector<std::string>& label_values, double v) {
  std::lock_guard<std::mutex> lock(mutex_);
  series(label_values).value += v;
}

void MetricFamily::set(const std::vector<std::string>& label_values, double v) {
  std::lock_guard<std::mutex> lock(mutex_);
  series(label_values).value = v;
}

void MetricFamily::observe(const std::vector<std::string>& label_values, double v) {
  std::lock_guard<std::mutex> lock(mutex_);
  Series& s = series(label_values);
  size_t b = 0;
  while (b < bounds_.size() && v > bounds_[b]) ++b;
  ++s.counts[b];
  s.sum += v;
  ++s.count;
}

double MetricFamily::value(const std::vector<std::string>& label_values) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = series_.find(label_values);
  if (it == series_.end()) return 0;
  return kind_ == Kind::histogram ? static_cast<double>(it->second.count) : it->second.value;
}

void MetricFamily::write(std::string* out) const {
  static const char* kTypes[] = {"counter", "gauge", "histogram"};
  *out += "# HELP " + name_ + " " + escaped(help_, false) + "\n";
  *out += "# TYPE " + name_ + " " + kTypes[static_cast<int>(kind_)] + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [values, s] : series_) {
    if (kind_ != Kind::histogram) {
      *out += name_ + label_set(label_names_, values) + " " + number(s.value) + "\n";
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= bounds_.size(); ++b) {
      cumulative += s.counts[b];
      const double le = b < bounds_.size() ? bounds_[b] : INFINITY;
      *out += name_ + "_bucket" + label_set(label_names_, values, "le=\"" + number(le) + "\"") + " " +
              std::to_string(cumulative) + "\n";
    }
    *out += name_ + "_sum" + label_set(label_names_, values) + " " + number(s.sum) + "\n";
    *out += name_ + "_count" + label_set(label_names_, values) + " " + std::to_string(s.count) + "\n";
  }
}

namespace {
const std::vector<double> kSecondsBuckets = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
const std::vector<double> kWindowBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};
}  // namespace

ServeMetrics::ServeMetrics()
    : requests("fastbert_requests_total", "HTTP requests answered, by model, endpoint and status",
               MetricFamily::Kind::counter, {"model", "endpoint", "status"}),
      queue_seconds("fastbert_queue_seconds", "Time from admission to the start of the request's batch",
                    MetricFamily::Kind::histogram, {"model"}, kSecondsBuckets),
      compute_seconds("fastbert_compute_seconds",
                      "Time of the request's batch: forward passes and answer span selection",
                      MetricFamily::Kind::histogram, {"model"}, kSecondsBuckets),
      batch_windows("fastbert_batch_windows", "Windows run together in one batch", MetricFamily::Kind::histogram,
                    {"model"}, kWindowBuckets),
      request_windows("fastbert_request_windows", "Windows (of max_seq tokens) a request's contexts make",
                      MetricFamily::Kind::histogram, {"model"}, kWindowBuckets),
      window_tokens("fastbert_window_tokens", "Tokens of each window run, padding excluded",
                    MetricFamily::Kind::histogram, {"model"}, {32, 64, 96, 128, 192, 256, 320, 384, 512}),
      queue_depth("fastbert_queue_depth", "Questions admitted and waiting for a batch", MetricFamily::Kind::gauge,
                  {"model"}) {}

std::string ServeMetrics::exposition() const {
  std::string out;
  for (const MetricFamily* f :
       {&requests, &queue_seconds, &compute_seconds, &batch_windows, &request_windows, &window_tokens, &queue_depth})
    f->write(&out);
  return out;
}

}  // namespace fastbert::serve
