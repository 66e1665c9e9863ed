#include "fastbert/serve/qa_batcher.h"

#include <omp.h>

#include <algorithm>
#include <numeric>

#include "fastbert/common/error.h"
#include "fastbert/kernels/attention.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/runtime/squad/squad_dataset.h"

namespace fastbert::serve {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The questions as Engine::answer lays out one: its own context each, and an
// empty placeholder answer, so that every window is labelled "no answer" and
// the windows are exactly those `fastbert eval` and Engine::answer make.
SquadDataset questions_of(const std::vector<QaItem>& items) {
  SquadDataset data;
  for (size_t i = 0; i < items.size(); ++i) {
    data.contexts.push_back(items[i].context);
    SquadQuestion q;
    q.id = std::to_string(i);
    q.question = items[i].question;
    q.context = static_cast<int32_t>(i);
    q.answers.push_back(SquadAnswer{"", 0});
    data.questions.push_back(std::move(q));
  }
  return data;
}

int64_t valid_length(const int32_t* mask, int64_t seq) {
  int64_t n = 0;
  while (n < seq && mask[n] != 0) ++n;
  return n;
}

}  // namespace

QaBatcher::QaBatcher(std::string name, std::filesystem::path model, const BatcherOptions& options,
                     ServeMetrics* metrics)
    : name_(std::move(name)), model_(std::move(model)), options_(options), metrics_(metrics) {
  if (options_.max_batch <= 0) throw Error("max batch must be positive, got " + std::to_string(options_.max_batch));
  if (options_.max_queue <= 0) throw Error("max queue must be positive, got " + std::to_string(options_.max_queue));
  const SquadWindowOptions& w = options_.windows;
  if (w.max_query <= 0 || w.doc_stride <= 0 || w.max_seq < w.max_query + 4)
    throw Error("windows of --max-seq " + std::to_string(w.max_seq) + " need --max-query (" +
                std::to_string(w.max_query) + ") below max-seq - 3 and a positive --doc-stride (" +
                std::to_string(w.doc_stride) + ")");
  const int threads = options_.threads > 0 ? options_.threads : std::max(1, omp_get_num_procs());
  const int workers = options_.workers > 0 ? std::min(options_.workers, threads) : threads;
  engines_.resize(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w)
    workers_.emplace_back([this, w, threads, workers] { worker_main(w, threads / workers + (w < threads % workers)); });
}

QaBatcher::~QaBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void QaBatcher::wait_ready() {
  std::unique_lock<std::mutex> lock(mutex_);
  state_.wait(lock, [&] { return ready_ || load_error_; });
  if (load_error_) std::rethrow_exception(load_error_);
}

bool QaBatcher::ready() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ready_;
}

std::string QaBatcher::kernel_summary() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return kernel_summary_;
}

QaBatcher::Admission QaBatcher::submit(std::vector<QaItem> items, Done done) {
  if (items.empty()) throw Error("QaBatcher::submit: no questions");
  const int64_t n = static_cast<int64_t>(items.size());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || !ready_) return Admission::stopping;
    if (queued_items_ + n > options_.max_queue) return Admission::queue_full;
  }
  auto job = std::make_unique<Job>();
  // Tokenized here, on the caller's thread, so it overlaps the worker's
  // forward passes; one OpenMP thread, as the caller is one of several.
  omp_set_num_threads(1);
  job->features = make_squad_features(questions_of(items), engines_[0]->tokenizer(), options_.windows);
  job->items = std::move(items);
  job->done = std::move(done);
  metrics_->request_windows.observe({name_}, static_cast<double>(job->features.num_windows()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Checked again: the queue may have filled while this request was tokenized.
    if (stopping_) return Admission::stopping;
    if (queued_items_ + n > options_.max_queue) return Admission::queue_full;
    job->admitted = Clock::now();
    queued_items_ += n;
    queue_.push_back(std::move(job));
    metrics_->queue_depth.set({name_}, static_cast<double>(queued_items_));
  }
  wake_.notify_one();
  return Admission::accepted;
}

void QaBatcher::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
  state_.wait(lock, [&] { return (queue_.empty() && running_ == 0) || load_error_; });
}

void QaBatcher::worker_main(int worker, int engine_threads) {
  Engine* engine = nullptr;
  try {
    EngineOptions engine_options;
    engine_options.num_threads = engine_threads;
    auto loaded = std::make_unique<Engine>(model_, engine_options);
    const int64_t positions = loaded->config().max_position;
    if (options_.windows.max_seq > positions)
      throw Error(model_.string() + ": the model has " + std::to_string(positions) +
                  " positions, fewer than --max-seq " + std::to_string(options_.windows.max_seq));
    warm_up(*loaded, engine_threads);
    std::lock_guard<std::mutex> lock(mutex_);
    engine = loaded.get();
    engines_[static_cast<size_t>(worker)] = std::move(loaded);
    if (++loaded_ == static_cast<int>(engines_.size())) {
      kernel_summary_ =
          std::string("isa=") + kernels::isa_name(kernels::isa_cap()) +
          " attention=" + attention_path_name(engine->attention_path()) +
          " workers=" + std::to_string(engines_.size()) + " threads_per_worker=" + std::to_string(engine_threads);
      ready_ = true;
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!load_error_) load_error_ = std::current_exception();
    engine = nullptr;
  }
  state_.notify_all();
  if (!engine) return;

  while (true) {
    std::vector<std::unique_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      batch = next_batch(lock);
      if (batch.empty()) break;
      running_ += static_cast<int64_t>(batch.size());
    }
    const int64_t jobs = static_cast<int64_t>(batch.size());
    run_batch(*engine, std::move(batch));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      running_ -= jobs;
    }
    state_.notify_all();
  }
}

// Plans every sequence bucket up to max_seq (buffers, oneDNN primitives)
// before the model counts as ready, so that no request pays for it.
void QaBatcher::warm_up(Engine& engine, int threads) {
  const int64_t s = options_.windows.max_seq;
  const int64_t rows = std::min<int64_t>(options_.max_batch, std::max(1, threads) * std::max<int64_t>(1, 128 / s));
  std::vector<int32_t> ids(static_cast<size_t>(rows * s), engine.tokenizer().cls_id()), types(ids.size(), 0),
      mask(ids.size(), 0);
  std::vector<float> start(ids.size()), end(ids.size());
  for (int64_t length = std::min<int64_t>(32, s);; length = std::min(s, length + 32)) {
    for (int64_t r = 0; r < rows; ++r) std::fill(&mask[r * s], &mask[r * s] + length, 1);
    engine.forward(ids.data(), types.data(), mask.data(), rows, s, start.data(), end.data());
    if (length == s) break;
  }
}

std::vector<std::unique_ptr<QaBatcher::Job>> QaBatcher::next_batch(std::unique_lock<std::mutex>& lock) {
  wake_.wait(lock, [&] { return !queue_.empty() || stopping_; });
  std::vector<std::unique_ptr<Job>> batch;
  if (queue_.empty()) return batch;
  const Clock::time_point close_at = queue_.front()->admitted + options_.max_delay;
  int64_t windows = 0;
  bool full = false;
  while (true) {
    while (!full && !queue_.empty()) {
      const int64_t w = queue_.front()->features.num_windows();
      // A request longer than a batch runs alone, in several forward passes.
      if (windows > 0 && windows + w > options_.max_batch) {
        full = true;
        break;
      }
      windows += w;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      full = windows >= options_.max_batch;
    }
    // Draining: nothing more will arrive worth waiting for.
    if (full || stopping_ || Clock::now() >= close_at) break;
    wake_.wait_until(lock, close_at);
  }
  // A request counts against max_queue until its batch starts: while the
  // batch is gathering, it is still waiting.
  for (const auto& job : batch) queued_items_ -= static_cast<int64_t>(job->items.size());
  metrics_->queue_depth.set({name_}, static_cast<double>(queued_items_));
  return batch;
}

void QaBatcher::run_batch(Engine& engine, std::vector<std::unique_ptr<Job>> batch) {
  const Clock::time_point begin = Clock::now();
  std::vector<QaOutcome> outcomes(batch.size());
  std::vector<size_t> live;
  for (size_t j = 0; j < batch.size(); ++j) {
    outcomes[j].queue_ms = ms_between(batch[j]->admitted, begin);
    outcomes[j].windows = batch[j]->features.num_windows();
    if (options_.timeout.count() > 0 && begin - batch[j]->admitted > options_.timeout)
      outcomes[j].status = QaOutcome::Status::timed_out;
    else
      live.push_back(j);
  }

  // Every window of the live requests, longest first: the engine runs each
  // unit of a batch in its own sequence bucket on the next free thread, so
  // no window pays for a longer one's padding and the long ones start first.
  const int64_t s = options_.windows.max_seq;
  struct Row {
    size_t job;
    int64_t window, length;
  };
  std::vector<Row> rows;
  for (size_t j : live) {
    const SquadFeatures& f = batch[j]->features;
    for (int64_t w = 0; w < f.num_windows(); ++w) rows.push_back({j, w, valid_length(&f.attention_mask[w * s], s)});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.length > b.length; });

  std::vector<SquadLogits> logits(batch.size());
  for (size_t j : live) {
    logits[j].max_seq = s;
    logits[j].start_logits.resize(static_cast<size_t>(batch[j]->features.num_windows() * s));
    logits[j].end_logits.resize(logits[j].start_logits.size());
  }
  std::string failure;
  try {
    const int64_t chunk = options_.max_batch;
    std::vector<int32_t> ids, types, mask;
    std::vector<float> start, end;
    for (size_t r0 = 0; r0 < rows.size(); r0 += static_cast<size_t>(chunk)) {
      const size_t r1 = std::min(rows.size(), r0 + static_cast<size_t>(chunk));
      const int64_t n = static_cast<int64_t>(r1 - r0);
      ids.resize(static_cast<size_t>(n * s));
      types.resize(ids.size());
      mask.resize(ids.size());
      start.resize(ids.size());
      end.resize(ids.size());
      for (size_t r = r0; r < r1; ++r) {
        const SquadFeatures& f = batch[rows[r].job]->features;
        const int64_t from = rows[r].window * s, to = static_cast<int64_t>(r - r0) * s;
        std::copy_n(&f.input_ids[from], s, &ids[to]);
        std::copy_n(&f.token_type_ids[from], s, &types[to]);
        std::copy_n(&f.attention_mask[from], s, &mask[to]);
      }
      engine.forward(ids.data(), types.data(), mask.data(), n, s, start.data(), end.data());
      for (size_t r = r0; r < r1; ++r) {
        SquadLogits& l = logits[rows[r].job];
        const int64_t from = static_cast<int64_t>(r - r0) * s, to = rows[r].window * s;
        std::copy_n(&start[from], s, &l.start_logits[to]);
        std::copy_n(&end[from], s, &l.end_logits[to]);
      }
    }
    for (size_t j : live) {
      std::vector<std::string_view> contexts;
      for (const QaItem& item : batch[j]->items) contexts.emplace_back(item.context);
      outcomes[j].answers = postprocess_squad(batch[j]->features, logits[j], contexts, options_.postprocess);
      outcomes[j].status = QaOutcome::Status::answered;
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  const double compute_ms = ms_between(begin, Clock::now());
  for (size_t j : live) {
    if (!failure.empty()) {
      outcomes[j].status = QaOutcome::Status::failed;
      outcomes[j].error = failure;
      outcomes[j].answers.clear();
    }
    outcomes[j].compute_ms = compute_ms;
    outcomes[j].batch_windows = static_cast<int64_t>(rows.size());
  }
  if (!rows.empty()) {
    metrics_->batch_windows.observe({name_}, static_cast<double>(rows.size()));
    for (const Row& r : rows) metrics_->window_tokens.observe({name_}, static_cast<double>(r.length));
    for (size_t j : live) {
      metrics_->queue_seconds.observe({name_}, outcomes[j].queue_ms / 1e3);
      metrics_->compute_seconds.observe({name_}, compute_ms / 1e3);
    }
  }
  for (size_t j = 0; j < batch.size(); ++j) batch[j]->done(std::move(outcomes[j]));
}

}  // namespace fastbert::serve
