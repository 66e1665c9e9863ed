// `fastbert serve`: the question-answering service over one or more .fbm
// files (serve/: HTTP, dynamic batching, metrics). Runs until SIGTERM or
// SIGINT, then stops accepting, answers every request it received and exits 0.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "fastbert/common/error.h"
#include "fastbert/serve/api_key.h"
#include "fastbert/serve/qa_server.h"

namespace fastbert::cli {

namespace {

struct ServeArgs {
  std::vector<std::string> models;  // PATH or NAME=PATH
  serve::ServerOptions server;
  serve::BatcherOptions batching;
  double max_delay_ms = 2;
  int64_t max_body_kb = 256;
  int64_t timeout_ms = 0;
  std::string api_key_file;
};

std::vector<serve::ModelSpec> model_specs(const std::vector<std::string>& args) {
  std::vector<serve::ModelSpec> specs;
  for (const std::string& a : args) {
    const size_t eq = a.find('=');
    serve::ModelSpec m;
    m.path = eq == std::string::npos ? a : a.substr(eq + 1);
    m.name = eq == std::string::npos ? m.path.stem().string() : a.substr(0, eq);
    if (m.name.empty() || m.name.find('/') != std::string::npos)
      throw Error("--model " + a + ": a model name must be non-empty and hold no '/'");
    if (!std::filesystem::is_regular_file(m.path))
      throw Error("--model " + a + ": " + m.path.string() + " is not a file");
    specs.push_back(std::move(m));
  }
  return specs;
}

void run_serve(ServeArgs& a) {
  a.batching.max_delay = std::chrono::microseconds(static_cast<int64_t>(a.max_delay_ms * 1000));
  a.batching.timeout = std::chrono::milliseconds(a.timeout_ms);
  a.server.max_body_bytes = a.max_body_kb * 1024;
  if (!a.api_key_file.empty()) a.server.api_key = serve::read_api_key_file(a.api_key_file);
  const std::vector<serve::ModelSpec> models = model_specs(a.models);

  // Every connection is a file descriptor: allow as many as the hard limit.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  // SIGTERM and SIGINT are blocked in every thread (threads inherit the mask)
  // and taken here by sigwait, so shutting down is ordinary code.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  serve::QaServer server(models, a.batching, a.server);
  server.wait_ready();
  std::cout << server.describe() << std::endl;
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  std::cerr << "fastbert serve: " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT")
            << ": no new connections; answering the requests received" << std::endl;
  server.drain();
  std::cerr << "fastbert serve: stopped" << std::endl;
}

}  // namespace

void register_serve(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "question-answering HTTP service (/v1/qa, KServe v2, /metrics, page at /)");
  auto a = std::make_shared<ServeArgs>();
  cmd->add_option("--model", a->models, "a .fbm file, as PATH (named after the file) or NAME=PATH; repeatable")
      ->required();
  cmd->add_option("--host", a->server.host, "address to listen on (loopback unless you mean otherwise)")
      ->capture_default_str();
  cmd->add_option("--port", a->server.port, "TCP port; 0 = any free port (printed when ready)")->capture_default_str();
  cmd->add_option("--threads", a->batching.threads, "engine threads per model (0 = all cores)")->capture_default_str();
  cmd->add_option("--workers", a->batching.workers,
                  "engines per model sharing --threads (0 = one single-threaded engine per thread)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--http-threads", a->server.http_threads, "HTTP I/O threads (parsing, tokenization)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch", a->batching.max_batch, "windows per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-delay-ms", a->max_delay_ms, "longest wait for a batch to fill")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-queue", a->batching.max_queue, "questions waiting per model; more get 503")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-body-kb", a->max_body_kb, "largest request body; larger get 413")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-context-chars", a->server.fields.max_context_chars,
                  "longest context in characters; longer get 422 (0 = no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout-ms", a->timeout_ms, "longest wait for a batch; longer get 504 (0 = none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--api-key-file", a->api_key_file, "require \"Authorization: Bearer KEY\", KEY from this file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--idle-timeout-s", a->server.idle_timeout_s, "close a connection silent this long")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--quiet", a->server.quiet, "no per-request log line on stderr");
  cmd->add_option("--max-seq", a->batching.windows.max_seq, "tokens per window (as fastbert eval)")
      ->capture_default_str();
  cmd->add_option("--doc-stride", a->batching.windows.doc_stride, "context tokens between window starts")
      ->capture_default_str();
  cmd->add_option("--max-query", a->batching.windows.max_query, "question tokens kept")->capture_default_str();
  cmd->add_option("--n-best", a->batching.postprocess.n_best, "start/end candidates per window")->capture_default_str();
  cmd->add_option("--max-answer-length", a->batching.postprocess.max_answer_length, "longest answer in tokens")
      ->capture_default_str();
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace fastbert::cli
