#pragma once
// The question-answering HTTP service: `POST /v1/qa`, the KServe v2 Open
// Inference Protocol (REST), `GET /metrics` (Prometheus) and `GET /` (a demo
// page), over one QaBatcher per model.
//
// HTTP is GNU libmicrohttpd, one epoll loop per I/O thread: a connection that
// is idle, or sends its request a byte at a time, costs a file descriptor and
// a little memory, never a thread, so it cannot keep a new client waiting
// (docs/serve.md). A request waiting for its batch is a suspended connection:
// the worker resumes it when the answer is ready, and no thread blocks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fastbert/serve/metrics.h"
#include "fastbert/serve/qa_batcher.h"
#include "fastbert/serve/qa_protocol.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace fastbert::serve {

struct HttpReply;

struct ModelSpec {
  std::string name;  // the v2 model name, and ?model= of /v1/qa
  std::filesystem::path path;
};

struct ServerOptions {
  std::string host = "127.0.0.1";       // an IPv4 or IPv6 address
  int port = 8080;                      // 0 = any free port (see port())
  int http_threads = 2;                 // I/O threads (parsing, tokenization)
  unsigned connection_limit = 4096;     // lowered to what RLIMIT_NOFILE allows
  unsigned idle_timeout_s = 30;         // a connection silent this long is closed
  int64_t max_body_bytes = 256 * 1024;  // larger bodies: 413
  FieldLimits fields;
  std::string api_key;  // non-empty: inference and model endpoints need "Authorization: Bearer <key>"
  bool quiet = false;   // no per-request log line on stderr
  std::chrono::milliseconds drain_timeout{30000};  // drain(): the longest wait for accepted requests
};

class QaServer {
 public:
  // Listens at once (live); the models load in the background (ready later:
  // wait_ready). Throws fastbert::Error when the address cannot be bound.
  QaServer(const std::vector<ModelSpec>& models, const BatcherOptions& batching, const ServerOptions& options);
  ~QaServer();
  QaServer(const QaServer&) = delete;
  QaServer& operator=(const QaServer&) = delete;

  int port() const { return port_; }
  // Blocks until every model is loaded and warmed; rethrows a load error.
  void wait_ready();
  // One line: the address, the models and the kernels they run on.
  std::string describe() const;
  // Stops accepting connections, answers every request already received
  // (later ones on open connections get 503), then closes. Idempotent.
  void drain();
  const ServeMetrics& metrics() const { return metrics_; }

 private:
  struct Exchange;
  struct Callbacks;  // libmicrohttpd's entry points
  friend struct Callbacks;
  int handle(MHD_Connection* c, Exchange& ex);
  int respond(MHD_Connection* c, Exchange& ex, const HttpReply& reply);
  void route(MHD_Connection* c, Exchange& ex);
  void finish(Exchange* ex);
  QaBatcher* model_named(const std::string& name) const;
  bool authorized(MHD_Connection* c) const;
  bool all_ready() const;
  void log(const Exchange& ex, int status) const;

  const ServerOptions options_;
  ServeMetrics metrics_;
  std::vector<std::unique_ptr<QaBatcher>> models_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  std::mutex mutex_;
  std::condition_variable idle_;  // an exchange finished
  int64_t exchanges_ = 0;         // requests received and not yet finished
  mutable std::mutex log_mutex_;
};

}  // namespace fastbert::serve
