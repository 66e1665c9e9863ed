#pragma once
// Dynamic batching of question-answering requests for one model.
//
// Requests are turned into windows on the caller's thread (the HTTP thread
// that parsed them), with the same windowing as `fastbert eval`
// (make_squad_features) and answered with the same span selection
// (postprocess_squad), so the service and the evaluation cannot disagree.
// One worker thread gathers the queued requests into batches of up to
// max_batch windows, waiting at most max_delay after the oldest one, runs
// them through the engine and hands every request its own answers.
//
// Use of the engine: the Engine is created on the worker thread, and forward()
// is only ever called from it; the engine needs no concurrency of its own.
// Other threads only call tokenizer() (const: make_squad_features itself
// tokenizes from several OpenMP threads at once), and only after ready().
// The engine's OpenMP threads (`threads`) are those of the worker thread.
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

#include "fastbert/runtime/engine.h"
#include "fastbert/serve/metrics.h"

namespace fastbert::serve {

struct QaItem {
  std::string question;
  std::string context;
};

struct BatcherOptions {
  int threads = 0;                                    // the engine's OpenMP threads; 0 = all cores
  int64_t max_batch = 16;                             // windows per batch
  std::chrono::microseconds max_delay{2000};          // longest wait for a batch to fill
  int64_t max_queue = 256;                            // questions admitted and waiting
  std::chrono::milliseconds timeout{0};               // admission to batch start; 0 = none
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
  // After ready(): "isa=... ops=... attention=..." of the engine.
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
  void worker_main();
  void warm_up();
  // Takes the next batch off the queue (lock held); empty when stopping and drained.
  std::vector<std::unique_ptr<Job>> next_batch(std::unique_lock<std::mutex>& lock);
  void run_batch(std::vector<std::unique_ptr<Job>> batch);

  const std::string name_;
  const std::filesystem::path model_;
  const BatcherOptions options_;
  ServeMetrics* const metrics_;

  std::unique_ptr<Engine> engine_;  // worker thread only (tokenizer(): any thread once ready)
  std::string kernel_summary_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;        // the worker: a job arrived, or stop
  std::condition_variable state_;       // callers: ready, or the queue emptied
  bool ready_ = false;
  std::exception_ptr load_error_;
  bool stopping_ = false;
  std::deque<std::unique_ptr<Job>> queue_;
  int64_t queued_items_ = 0;
  int64_t running_ = 0;  // jobs taken off the queue, not yet answered
  std::thread worker_;
};

}  // namespace fastbert::serve
