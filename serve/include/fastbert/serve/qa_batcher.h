#pragma once
// Dynamic batching of question-answering requests for one model.
//
// Requests are turned into windows on the caller's thread (the HTTP thread
// that parsed them), with the same windowing as `fastbert eval`
// (make_squad_features) and answered with the same span selection
// (postprocess_squad), so the service and the evaluation cannot disagree.
// Worker threads take the queued requests in batches of up to max_batch
// windows, waiting at most max_delay after the oldest one, run them through
// their engine and hand every request its own answers; while one worker
// computes, the next gathers.
//
// Use of the engine: one Engine per worker, created on that worker's thread;
// forward() is only ever called from it, so the engine needs no concurrency
// of its own. Other threads only call tokenizer() of the first engine (const:
// make_squad_features itself tokenizes from several OpenMP threads at once),
// and only after ready(). A worker's engine runs threads / workers OpenMP
// threads of that worker. By default every worker is one thread: a batch of
// one window then runs on one core instead of every op waiting at an OpenMP
// barrier for all of them, which collapses when the cores are shared
// (measured on MiniLM's shape, seq 192, batch 1, on 2 loaded cores: 62.6
// seq/s on 1 thread, 4.7 on 2; docs/serve.md).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_postprocess.h"
#include "fastbert/runtime/squad/squad_windows.h"
#include "fastbert/serve/metrics.h"

namespace fastbert::serve {

struct QaItem {
  std::string question;
  std::string context;
};

struct BatcherOptions {
  int threads = 0;                            // engine threads in all; 0 = all cores
  int workers = 0;                            // engines, threads / workers threads each; 0 = threads
  int64_t max_batch = 16;                     // windows per batch
  std::chrono::microseconds max_delay{2000};  // longest wait for a batch to fill
  int64_t max_queue = 256;                    // questions admitted and waiting
  std::chrono::milliseconds timeout{0};       // admission to batch start; 0 = none
  SquadWindowOptions windows;
  SquadPostprocessOptions postprocess;
};

struct QaOutcome {
  enum class Status { answered, timed_out, failed };
  Status status = Status::failed;
  std::vector<SquadPrediction> answers;  // one per item, in order (answered)
  std::string error;                     // failed
  double queue_ms = 0, compute_ms = 0;
  int64_t batch_windows = 0;  // windows of the batch the request ran in
  int64_t windows = 0;        // windows of this request
};

class QaBatcher {
 public:
  enum class Admission { accepted, queue_full, stopping };
  using Done = std::function<void(QaOutcome)>;

  // Starts the worker, which loads and warms the model; see wait_ready().
  QaBatcher(std::string name, std::filesystem::path model, const BatcherOptions& options, ServeMetrics* metrics);
  // Answers everything admitted, then stops the worker.
  ~QaBatcher();
  QaBatcher(const QaBatcher&) = delete;
  QaBatcher& operator=(const QaBatcher&) = delete;

  const std::string& name() const { return name_; }
  const BatcherOptions& options() const { return options_; }
  // Blocks until the model is loaded and every sequence bucket planned;
  // rethrows the error if loading failed.
  void wait_ready();
  bool ready() const;
  // After ready(): "isa=... attention=..." of the engine.
  std::string kernel_summary() const;

  // Admits `items` (at least one) unless the queue is full or the batcher
  // stops; `done` is then called exactly once, on the worker thread.
  Admission submit(std::vector<QaItem> items, Done done);
  // Admits nothing more; returns once every admitted request is answered.
  void drain();

 private:
  struct Job {
    std::vector<QaItem> items;
    SquadFeatures features;
    std::chrono::steady_clock::time_point admitted;
    Done done;
  };
  void worker_main(int worker, int engine_threads);
  void warm_up(Engine& engine, int threads);
  // Takes the next batch off the queue (lock held); empty when stopping and drained.
  std::vector<std::unique_ptr<Job>> next_batch(std::unique_lock<std::mutex>& lock);
  void run_batch(Engine& engine, std::vector<std::unique_ptr<Job>> batch);

  const std::string name_;
  const std::filesystem::path model_;
  const BatcherOptions options_;
  ServeMetrics* const metrics_;

  // engines_[w]: worker w's (tokenizer() of engines_[0]: any thread once ready).
  std::vector<std::unique_ptr<Engine>> engines_;
  std::string kernel_summary_;
  int loaded_ = 0;  // workers with their engine loaded and warmed

  mutable std::mutex mutex_;
  std::condition_variable wake_;   // the worker: a job arrived, or stop
  std::condition_variable state_;  // callers: ready, or the queue emptied
  bool ready_ = false;
  std::exception_ptr load_error_;
  bool stopping_ = false;
  std::deque<std::unique_ptr<Job>> queue_;
  int64_t queued_items_ = 0;
  int64_t running_ = 0;  // jobs taken off the queue, not yet answered
  std::vector<std::thread> workers_;
};

}  // namespace fastbert::serve
