#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/train/rank_env.h"

namespace fastbert {

// Whether this build of fastbert-train can use `b` (NCCL needs a LibTorch
// built with CUDA and NCCL; Debian's has neither).
bool comm_backend_available(CommBackend b);

struct RankGroupOptions {
  CommBackend backend = CommBackend::Gloo;
  // Rendezvous and every collective: a rank that died or hangs ends the
  // others within this (plus kFaultAnswerWindow to find out who it was).
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};

// How long a rank whose collective failed waits for the other survivors to
// answer, so that the one that did not can be named.
constexpr std::chrono::milliseconds kFaultAnswerWindow{3000};

// This process's membership in a data-parallel run, on LibTorch's c10d: a
// TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT for the rendezvous and
// a ProcessGroup (Gloo or NCCL) for the collectives. Every failure of a
// collective (a peer that died, a timeout) throws fastbert::Error naming this
// rank, the operation, and the ranks that did not answer afterwards.
class RankGroup {
 public:
  RankGroup(const RankEnv& env, const RankGroupOptions& options);
  ~RankGroup();
  RankGroup(const RankGroup&) = delete;
  RankGroup& operator=(const RankGroup&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  const RankEnv& env() const { return env_; }

  // Sums each tensor over the ranks, in place. All of them are in flight at
  // once, so the transfer of one overlaps the reduction of the others.
  // `what` names the operation in errors ("gradients of step 12").
  void sum_in_place(std::vector<torch::Tensor>& tensors, const std::string& what);
  // The same in two halves, so that the caller computes while the sums run on
  // the backend's threads: start_sum returns at once and never throws (it may
  // run inside backward, from an autograd hook); finish_sums waits for every
  // sum started since the last finish_sums and throws as sum_in_place does,
  // for the first that failed. Every rank must start its sums in the same
  // order: the backend pairs them up by their position in that order.
  void start_sum(torch::Tensor tensor);
  void finish_sums(const std::string& what);
  double sum(double value, const std::string& what);
  // Every rank passes the digest of what must be identical everywhere; throws
  // (on every rank) naming the ranks whose digest differs from rank 0's, and
  // `likely_cause`.
  void check_identical(uint64_t digest, const std::string& what, const std::string& likely_cause);
  void barrier(const std::string& what);

 private:
  struct Impl;
  [[noreturn]] void fail(const std::string& what, const std::string& cause);
  torch::Device scalar_device() const;

  RankEnv env_;
  RankGroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fastbert
