#include "fastbert/serve/qa_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "demo_page.h"
#include "fastbert/common/error.h"
#include "fastbert/serve/api_key.h"

namespace fastbert::serve {

namespace {

using Clock = std::chrono::steady_clock;

enum class Endpoint { page, metrics, v1_qa, v2_live, v2_ready, v2_server, v2_model, v2_model_ready, v2_infer, unknown };

const char* endpoint_name(Endpoint e) {
  static const char* names[] = {"page",      "metrics",  "v1_qa",          "v2_health_live", "v2_health_ready",
                                "v2_server", "v2_model", "v2_model_ready", "v2_infer",       "unknown"};
  return names[static_cast<int>(e)];
}

// Endpoints anyone may call with --api-key-file: the probes of an
// orchestrator, the metrics scraper and the page (which asks for the key).
bool open_endpoint(Endpoint e) {
  return e == Endpoint::v2_live || e == Endpoint::v2_ready || e == Endpoint::metrics || e == Endpoint::page;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const int ms =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

}  // namespace

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

static HttpReply json_reply(int status, std::string body) { return {status, std::move(body), "application/json", {}}; }

// One HTTP request, from its headers to the end of its response.
struct QaServer::Exchange {
  Clock::time_point received = Clock::now();
  std::string method, path;
  Endpoint endpoint = Endpoint::unknown;
  std::string model_label;
  QaBatcher* model = nullptr;
  std::optional<HttpReply> early;  // decided from the request line and headers
  std::string body;
  bool too_large = false;
  bool responded = false;
  bool suspended = false;
  // The parsed body, kept for formatting the answer.
  V1Request v1;
  V2Request v2;
  // Set by the batcher's worker before it resumes the connection.
  std::mutex mutex;
  std::optional<HttpReply> deferred;
  QaOutcome outcome;
};

struct QaServer::Callbacks {
  static MHD_Result on_request(void* self, MHD_Connection* c, const char* url, const char* method, const char*,
                               const char* upload, size_t* upload_size, void** state) {
    auto* server = static_cast<QaServer*>(self);
    auto* ex = static_cast<Exchange*>(*state);
    try {
      if (!ex) {
        ex = new Exchange;
        *state = ex;
        {
          std::lock_guard<std::mutex> lock(server->mutex_);
          ++server->exchanges_;
        }
        ex->method = method;
        ex->path = url;
        server->route(c, *ex);
        if (ex->early) return static_cast<MHD_Result>(server->respond(c, *ex, *ex->early));
        return MHD_YES;
      }
      if (*upload_size > 0) {
        if (!ex->responded && !ex->too_large) {
          if (static_cast<int64_t>(ex->body.size() + *upload_size) > server->options_.max_body_bytes) {
            ex->too_large = true;  // a chunked body that grew past the limit: read on, keep nothing
            std::string().swap(ex->body);
          } else {
            ex->body.append(upload, *upload_size);
          }
        }
        *upload_size = 0;
        return MHD_YES;
      }
      if (ex->responded) return MHD_YES;
      return static_cast<MHD_Result>(server->handle(c, *ex));
    } catch (const std::exception& e) {
      if (!ex || ex->responded || ex->suspended) return MHD_NO;
      return static_cast<MHD_Result>(server->respond(c, *ex, json_reply(500, error_body(e.what()))));
    }
  }

  static void on_completed(void* self, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
    static_cast<QaServer*>(self)->finish(static_cast<Exchange*>(*state));
    *state = nullptr;
  }
};

void QaServer::finish(Exchange* ex) {
  if (!ex) return;
  delete ex;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --exchanges_;
  }
  idle_.notify_all();
}

QaServer::QaServer(const std::vector<ModelSpec>& models, const BatcherOptions& batching, const ServerOptions& options)
    : options_(options) {
  if (models.empty()) throw Error("fastbert serve: no model (--model PATH or --model NAME=PATH)");
  for (const ModelSpec& m : models) {
    if (model_named(m.name)) throw Error("two models named \"" + m.name + "\"; name them with --model NAME=PATH");
    models_.push_back(std::make_unique<QaBatcher>(m.name, m.path, batching, &metrics_));
  }

  sockaddr_storage address{};
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (options_.port < 0 || options_.port > 65535)
    throw Error("--port " + std::to_string(options_.port) + ": expected 0 to 65535");
  if (inet_pton(AF_INET, options_.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(options_.port));
  } else if (inet_pton(AF_INET6, options_.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(options_.port));
    flags |= MHD_USE_IPv6;
  } else {
    throw Error("--host " + options_.host + ": expected an IPv4 or IPv6 address (127.0.0.1, ::1)");
  }
  // Every connection is a descriptor; keep a margin for model files and logs.
  rlimit files{};
  unsigned limit = options_.connection_limit;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY)
    limit = static_cast<unsigned>(std::min<rlim_t>(limit, files.rlim_cur > 128 ? files.rlim_cur - 64 : 64));
  daemon_ =
      MHD_start_daemon(flags, 0, nullptr, nullptr, &Callbacks::on_request, this, MHD_OPTION_SOCK_ADDR,
                       reinterpret_cast<sockaddr*>(&address), MHD_OPTION_THREAD_POOL_SIZE,
                       static_cast<unsigned>(std::max(1, options_.http_threads)), MHD_OPTION_CONNECTION_LIMIT, limit,
                       MHD_OPTION_CONNECTION_TIMEOUT, options_.idle_timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                       MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::on_completed, this, MHD_OPTION_END);
  if (!daemon_)
    throw Error("cannot listen on " + options_.host + " port " + std::to_string(options_.port) +
                " (in use, or not an address of this machine)");
  port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

QaServer::~QaServer() { drain(); }

void QaServer::wait_ready() {
  for (auto& m : models_) m->wait_ready();
}

bool QaServer::all_ready() const {
  for (const auto& m : models_)
    if (!m->ready()) return false;
  return true;
}

std::string QaServer::describe() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  std::string s = "fastbert serve: ready on http://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" +
                  std::to_string(port_) + " models=";
  for (size_t i = 0; i < models_.size(); ++i) s += (i ? "," : "") + models_[i]->name();
  if (!models_.empty()) s += " " + models_.front()->kernel_summary();
  const BatcherOptions& b = models_.front()->options();
  char delay[32];
  std::snprintf(delay, sizeof delay, "%g", static_cast<double>(b.max_delay.count()) / 1e3);
  s += " max_batch=" + std::to_string(b.max_batch) + " max_delay_ms=" + delay +
       " max_seq=" + std::to_string(b.windows.max_seq);
  return s;
}

void QaServer::drain() {
  if (draining_.exchange(true)) return;
  if (!daemon_) return;
  // Refuse new connections at once: a closed listening socket makes a
  // client's connect fail fast, and an orchestrator sends it elsewhere.
  const MHD_socket listener = MHD_quiesce_daemon(daemon_);
  if (listener != MHD_INVALID_SOCKET) ::close(listener);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait_for(lock, options_.drain_timeout, [&] { return exchanges_ == 0; });
  }
  // Whatever is still admitted is answered before the connections close.
  for (auto& m : models_) m->drain();
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

QaBatcher* QaServer::model_named(const std::string& name) const {
  for (const auto& m : models_)
    if (m->name() == name) return m.get();
  return nullptr;
}

bool QaServer::authorized(MHD_Connection* c) const {
  const char* header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!header) return false;
  const std::string_view value(header);
  const std::string_view scheme = "Bearer ";
  if (value.substr(0, scheme.size()) != scheme) return false;
  return equal_in_constant_time(value.substr(scheme.size()), options_.api_key);
}

// Decides what it can from the request line and headers alone; anything it
// refuses is answered before the body is read.
void QaServer::route(MHD_Connection* c, Exchange& ex) {
  const std::string& path = ex.path;
  const bool get = ex.method == "GET" || ex.method == "HEAD";
  const bool post = ex.method == "POST";
  auto refuse = [&](int status, const std::string& message) { ex.early = json_reply(status, error_body(message)); };

  std::string model_name;
  if (path == "/") {
    ex.endpoint = Endpoint::page;
  } else if (path == "/metrics") {
    ex.endpoint = Endpoint::metrics;
  } else if (path == "/v1/qa") {
    ex.endpoint = Endpoint::v1_qa;
  } else if (path == "/v2" || path == "/v2/") {
    ex.endpoint = Endpoint::v2_server;
  } else if (path == "/v2/health/live") {
    ex.endpoint = Endpoint::v2_live;
  } else if (path == "/v2/health/ready") {
    ex.endpoint = Endpoint::v2_ready;
  } else if (path.rfind("/v2/models/", 0) == 0) {  // {name}[/versions/{version}][/ready|/infer]
    const std::string tail = path.substr(std::string("/v2/models/").size());
    const size_t slash = tail.find('/');
    model_name = tail.substr(0, slash);
    std::string rest = slash == std::string::npos ? "" : tail.substr(slash);
    if (rest.rfind("/versions/", 0) == 0) {
      const std::string after = rest.substr(std::string("/versions/").size());
      const size_t end = after.find('/');
      const std::string version = after.substr(0, end);
      rest = end == std::string::npos ? "" : after.substr(end);
      if (version != "1" && !model_name.empty() && model_named(model_name))
        return refuse(404, "model \"" + model_name + "\" has no version \"" + version + "\"; its only version is 1");
    }
    if (model_name.empty())
      ex.endpoint = Endpoint::unknown;
    else if (rest.empty())
      ex.endpoint = Endpoint::v2_model;
    else if (rest == "/ready")
      ex.endpoint = Endpoint::v2_model_ready;
    else if (rest == "/infer")
      ex.endpoint = Endpoint::v2_infer;
  }
  const bool wants_post = ex.endpoint == Endpoint::v1_qa || ex.endpoint == Endpoint::v2_infer;
  if (ex.endpoint == Endpoint::unknown)
    return refuse(404, "no endpoint " + path +
                           "; the endpoints are /v1/qa, /v2, /v2/health/live, /v2/health/ready, /v2/models/{name}, "
                           "/v2/models/{name}/ready, /v2/models/{name}/infer, /metrics and /");
  if (wants_post ? !post : !get) {
    refuse(405, "method " + ex.method + " is not allowed on " + path + "; use " + (wants_post ? "POST" : "GET"));
    ex.early->headers.emplace_back("Allow", wants_post ? "POST" : "GET, HEAD");
    return;
  }
  if (!options_.api_key.empty() && !open_endpoint(ex.endpoint) && !authorized(c)) {
    refuse(401, "missing or wrong API key: send the header \"Authorization: Bearer <key>\"");
    ex.early->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"fastbert\"");
    return;
  }
  if (ex.endpoint == Endpoint::v1_qa) {
    const char* query = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
    model_name = query ? query : models_.front()->name();
  }
  if (!model_name.empty()) {
    ex.model = model_named(model_name);
    if (!ex.model) {
      std::string names;
      for (const auto& m : models_) names += (names.empty() ? "" : ", ") + m->name();
      return refuse(404, "no model named \"" + model_name + "\"; the models are " + names);
    }
    ex.model_label = model_name;
  }
  if (wants_post) {
    const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && std::strtoll(length, nullptr, 10) > options_.max_body_bytes)
      return refuse(413, "body of " + std::string(length) + " bytes is over the limit of " +
                             std::to_string(options_.max_body_bytes) + " bytes (--max-body-kb)");
    if (draining_) return refuse(503, "the server is shutting down");
  }
}

int QaServer::handle(MHD_Connection* c, Exchange& ex) {
  if (ex.suspended) {  // resumed by the worker
    std::lock_guard<std::mutex> lock(ex.mutex);
    return respond(c, ex, *ex.deferred);
  }
  if (ex.too_large)
    return respond(c, ex,
                   json_reply(413, error_body("body is over the limit of " + std::to_string(options_.max_body_bytes) +
                                              " bytes (--max-body-kb)")));
  switch (ex.endpoint) {
    case Endpoint::page:
      return respond(c, ex, HttpReply{200, demo_page_html(), "text/html; charset=utf-8", {}});
    case Endpoint::metrics:
      return respond(c, ex, HttpReply{200, metrics_.exposition(), "text/plain; version=0.0.4; charset=utf-8", {}});
    // The v2 health answers are the status alone (200 true, 4xx false) with
    // an empty body, as the protocol writes them.
    case Endpoint::v2_live:
      return respond(c, ex, HttpReply{200, "", "text/plain", {}});
    case Endpoint::v2_ready: {
      const bool ready = all_ready() && !draining_;
      return respond(c, ex, HttpReply{ready ? 200 : 400, "", "text/plain", {}});
    }
    case Endpoint::v2_server:
      return respond(c, ex, json_reply(200, v2_server_metadata()));
    case Endpoint::v2_model:
      return respond(c, ex, json_reply(200, v2_model_metadata(ex.model->name())));
    case Endpoint::v2_model_ready:
      return respond(c, ex, HttpReply{ex.model->ready() ? 200 : 400, "", "text/plain", {}});
    default:
      break;
  }

  // Inference: parse and validate, then wait for a batch, suspended.
  std::vector<QaItem> items;
  try {
    if (ex.endpoint == Endpoint::v1_qa) {
      ex.v1 = parse_v1_request(ex.body, options_.fields);
      items = ex.v1.items;
    } else {
      const char* header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
      int64_t json_length = -1;
      if (header) {
        char* end = nullptr;
        json_length = std::strtoll(header, &end, 10);
        if (*header == '\0' || *end != '\0' || json_length < 0)
          throw RequestError(400, "header Inference-Header-Content-Length is \"" + std::string(header) +
                                      "\"; expected the byte length of the JSON part of the body");
      }
      ex.v2 = parse_v2_request(ex.body, json_length, options_.fields);
      items = ex.v2.items;
    }
  } catch (const RequestError& e) {
    return respond(c, ex, json_reply(e.status(), error_body(e.what())));
  }
  std::string().swap(ex.body);
  if (static_cast<int64_t>(items.size()) > ex.model->options().max_queue)
    return respond(c, ex,
                   json_reply(422, error_body("the request holds " + std::to_string(items.size()) +
                                              " questions, more than the queue takes (" +
                                              std::to_string(ex.model->options().max_queue) + ", --max-queue)")));
  if (!ex.model->ready()) {
    HttpReply r = json_reply(503, error_body("model \"" + ex.model->name() + "\" is still loading"));
    r.headers.emplace_back("Retry-After", "1");
    return respond(c, ex, r);
  }
  // Suspended before it is submitted: the worker may answer, and resume it,
  // before submit() returns.
  MHD_suspend_connection(c);
  ex.suspended = true;
  Exchange* exchange = &ex;
  const int64_t timeout_ms = ex.model->options().timeout.count();
  QaBatcher::Admission admission = QaBatcher::Admission::stopping;
  std::string failure;
  try {
    admission = ex.model->submit(std::move(items), [this, c, exchange, timeout_ms](QaOutcome outcome) {
      HttpReply reply;
      switch (outcome.status) {
        case QaOutcome::Status::answered:
          if (exchange->endpoint == Endpoint::v1_qa) {
            reply = json_reply(200, v1_response(exchange->v1, outcome.answers));
          } else {
            V2Response v2 = v2_response(exchange->model->name(), exchange->v2, outcome.answers);
            reply = json_reply(200, std::move(v2.body));
            if (v2.json_length >= 0) {  // binary outputs follow the JSON
              reply.content_type = "application/octet-stream";
              reply.headers.emplace_back("Inference-Header-Content-Length", std::to_string(v2.json_length));
            }
          }
          break;
        case QaOutcome::Status::timed_out:
          reply = json_reply(504, error_body("the request waited " + std::to_string(outcome.queue_ms) +
                                             " ms for a batch, past the limit of " + std::to_string(timeout_ms) +
                                             " ms (--timeout-ms)"));
          break;
        case QaOutcome::Status::failed:
          reply = json_reply(500, error_body(outcome.error));
          break;
      }
      {
        std::lock_guard<std::mutex> lock(exchange->mutex);
        exchange->deferred = std::move(reply);
        exchange->outcome = std::move(outcome);
      }
      MHD_resume_connection(c);
    });
  } catch (const std::exception& e) {  // not admitted: answered here, resumed at once
    failure = e.what();
  }
  if (!failure.empty()) {
    {
      std::lock_guard<std::mutex> lock(ex.mutex);
      ex.deferred = json_reply(500, error_body(failure));
    }
    MHD_resume_connection(c);
  } else if (admission != QaBatcher::Admission::accepted) {
    const int64_t limit = ex.model->options().max_queue;
    HttpReply r = admission == QaBatcher::Admission::queue_full
                      ? json_reply(503, error_body("the queue is full (" + std::to_string(limit) +
                                                   " questions waiting, --max-queue); retry later"))
                      : json_reply(503, error_body("the server is shutting down"));
    r.headers.emplace_back("Retry-After", "1");
    {
      std::lock_guard<std::mutex> lock(ex.mutex);
      ex.deferred = std::move(r);
    }
    MHD_resume_connection(c);
  }
  return MHD_YES;
}

int QaServer::respond(MHD_Connection* c, Exchange& ex, const HttpReply& reply) {
  MHD_Response* response =
      MHD_create_response_from_buffer(reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  for (const auto& [key, value] : reply.headers) MHD_add_response_header(response, key.c_str(), value.c_str());
  // Draining: tell keep-alive clients not to send another request here.
  if (draining_) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
  const MHD_Result queued = MHD_queue_response(c, static_cast<unsigned>(reply.status), response);
  MHD_destroy_response(response);
  ex.responded = true;
  metrics_.requests.add({ex.model_label, endpoint_name(ex.endpoint), std::to_string(reply.status)});
  log(ex, reply.status);
  return queued;
}

void QaServer::log(const Exchange& ex, int status) const {
  if (options_.quiet) return;
  const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - ex.received).count();
  char numbers[200];
  std::snprintf(numbers, sizeof numbers, " queue_ms=%.3f compute_ms=%.3f batch=%lld windows=%lld total_ms=%.3f",
                ex.outcome.queue_ms, ex.outcome.compute_ms, static_cast<long long>(ex.outcome.batch_windows),
                static_cast<long long>(ex.outcome.windows), total_ms);
  const std::string line = "time=" + utc_now() + " method=" + ex.method + " path=" +
                           nlohmann::json(ex.path).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                           " status=" + std::to_string(status) + " endpoint=" + endpoint_name(ex.endpoint) +
                           " model=" + (ex.model_label.empty() ? "-" : ex.model_label) + numbers + "\n";
  std::lock_guard<std::mutex> lock(log_mutex_);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace fastbert::serve
