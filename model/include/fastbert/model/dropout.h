#pragma once
#include <torch/torch.h>

namespace fastbert {

// Inverted dropout for training: x * keep / (1 - p), keep ~ Bernoulli(1 - p);
// x itself when not training or p is 0. Every dropout of the model goes
// through it.
//
// Why not torch::dropout: on CPU without MKL (and with MKL on any non-Intel
// CPU) LibTorch draws its Bernoulli noise one element at a time from one
// mt19937 on one thread. A MiniLM step at batch 32, seq 256 draws ~190 M of
// them, a large part of the step, with the other cores idle. Here the noise
// comes from Philox (counter-based, ATen's own engine) keyed by one 64-bit
// draw from torch's global generator, element i from counter i / 4: the mask
// depends on the global generator's state (so on the trainer's per-step seed)
// and on nothing else, neither the thread count nor how the work is split.
// Tensors on another device (CUDA) take torch::dropout, which is parallel there.
torch::Tensor apply_dropout(const torch::Tensor& x, double p, bool training);

}  // namespace fastbert
